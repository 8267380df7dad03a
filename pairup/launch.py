"""Starting and joining sessions: identity, the embedded relay, the link, then a front end.

Shared by the headless mode and the TUI, so both open, join and name sessions the same way.
"""

import asyncio
import contextlib
import errno
import getpass
import logging
import secrets
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from pairup import protocol as wire
from pairup.config import Config
from pairup.journal import journal_path, read_info
from pairup.relay.chaos import Chaos
from pairup.relay.server import Relay, open_store
from pairup.relay.store import StoreError
from pairup.session import events as ev

ANY_ADDRESS = {"0.0.0.0", "::", ""}


class LaunchError(Exception):
    """Something the user can fix before a session can start; one line."""


def identity(config: Config, env: Mapping[str, str], cwd: Path) -> tuple[str, str]:
    """Name and email: config and flags first, then git's author variables, then git config,
    then (for the name) the login name."""
    name = (
        config.identity.name
        or env.get("GIT_AUTHOR_NAME", "")
        or _git_config("user.name", cwd)
        or _login_name()
    )
    email = (
        config.identity.email or env.get("GIT_AUTHOR_EMAIL", "") or _git_config("user.email", cwd)
    )
    if not name:
        raise LaunchError("who are you? give --name (no git user.name is set)")
    return name, email


def _login_name() -> str:
    """The account name, so a machine without git config can still pair (as "alice")."""
    with contextlib.suppress(OSError, KeyError):
        return getpass.getuser()
    return ""


def _git_config(key: str, cwd: Path) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        result = subprocess.run(
            ["git", "config", "--get", key],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return result.stdout.strip()
    return ""


def session_settings(config: Config) -> ev.SessionSettings:
    """The rules this host proposes for the session, from their config."""
    try:
        return ev.SessionSettings(
            turn_seconds=config.session.turn,
            break_every=config.session.break_every,
            break_seconds=config.session.break_length,
            max_participants=config.session.max_participants,
            auto_start=config.session.next_turn == "auto",
            away_after_seconds=config.session.away_after,
        )
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise LaunchError(f"session settings: {first['loc'][0]}: {first['msg']}") from None


def participant_id(data_dir: Path, session: str) -> str:
    """This machine's id in ``session``: the one it had before, if it has been here."""
    path = journal_path(data_dir, session)
    if path.exists():
        with contextlib.suppress(OSError, ValueError):
            known = read_info(path).meta.get("participant")
            if known:
                return known
    return secrets.token_urlsafe(6)


def new_join_link(relay: str) -> wire.JoinLink:
    """A fresh session on ``relay`` (``ws://host:port``, or ``wss://host:port`` with the pin
    of its certificate after a ``#`` when it has no authority's), with a new 128-bit secret."""
    parts = urlsplit(relay)
    if parts.scheme not in ("ws", "wss") or not parts.netloc or parts.path.strip("/"):
        raise LaunchError(
            f"a relay URL looks like ws://HOST:PORT or wss://HOST:PORT[#PIN], not {relay}"
        )
    pin = parts.fragment
    if pin and (parts.scheme != "wss" or not wire.PIN.fullmatch(pin)):
        raise LaunchError(
            "the relay URL's #PIN is the certificate pin pairup relay --self-signed printed, "
            f"for a wss:// URL: {relay}"
        )
    base = f"{parts.scheme}://{parts.netloc}"
    return wire.JoinLink(base, new_session_id(), secrets.token_bytes(wire.SECRET_BYTES), pin=pin)


def new_session_id() -> str:
    """72 random bits, URL-safe, never starting with "-": people type a session id after a
    command (``pairup export SESSION``), where it would read as an option."""
    while True:
        session = secrets.token_urlsafe(12)
        if not session.startswith("-"):
            return session


@dataclass(frozen=True, slots=True)
class Listening:
    """The relay inside this process: what to put in links, and where it really listens."""

    url: str
    """``wss://HOST:PORT#PIN`` (or ``ws://HOST:PORT`` without TLS): what
    :func:`new_join_link` makes links for."""
    bind: str
    port: int


@contextlib.asynccontextmanager
async def embedded_relay(
    config: Config,
    chaos: Chaos | None = None,
    *,
    bind: str | None = None,
    port: int | None = None,
    resuming: bool = False,
) -> AsyncIterator[Listening]:
    """Run a relay inside this process for the session, on ``bind``:``port`` (the config's by
    default). Its store lives in the data directory, so a relay started again after a crash
    has every session it had. Unless ``relay.tls`` is off it serves ``wss://`` with the data
    directory's self-signed certificate, whose pin the links carry (:mod:`pairup.tls`)."""
    from pairup import tls

    host = config.relay.host if bind is None else bind
    port = config.relay.port if port is None else port
    context, pin = None, ""
    if config.relay.tls == "self-signed":
        try:
            pin, context = await asyncio.to_thread(tls.serving, config.data_dir / "relay")
        except tls.TlsError as error:
            raise LaunchError(str(error)) from None
    try:
        store = await asyncio.to_thread(open_store, config.data_dir / "relay")
    except (StoreError, OSError) as error:
        raise LaunchError(f"cannot open the relay's store: {error}") from None
    relay = Relay(store, chaos=chaos)
    try:
        server = await relay.start(host, port, ssl=context)
    except OSError as error:
        store.close()
        if resuming and error.errno == errno.EADDRINUSE:
            raise LaunchError(
                f"port {port}, where this session's join link points, is taken (is the session "
                "still open in another pairup?): stop what holds it, or resume on another port "
                "with pairup start --resume --port N and send your partners the new link"
            ) from None
        raise LaunchError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    bound_port = server.sockets[0].getsockname()[1]
    shown = config.relay.advertise or (socket.gethostname() if host in ANY_ADDRESS else host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    try:
        scheme = "ws" if context is None else "wss"
        yield Listening(
            f"{scheme}://{shown}:{bound_port}{f'#{pin}' if pin else ''}", host, bound_port
        )
    finally:
        await relay.stop(server)
        store.close()


@contextlib.contextmanager
def log_to_file(data_dir: Path) -> Iterator[Path]:
    """Send pairup's log to ``pairup.log`` in the data directory while a full-screen UI runs,
    where a warning printed to the terminal would tear the screen."""
    path = data_dir / "pairup.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    before = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield path
    finally:
        root.handlers[:], level = before
        root.setLevel(level)
        handler.close()
