"""The ``pairup`` command line.

Only the standard library is imported at module level, so ``pairup --help`` answers at once;
each command imports what it needs (pydantic, Textual, websockets, pygit2) when it runs.
A user's mistake gets one line on stderr and a non-zero exit; tracebacks are for bugs.
"""

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pairup import __version__

if TYPE_CHECKING:
    from pairup.config import Config, LoadedConfig
    from pairup.git import trailers
    from pairup.git.live import LiveSession
    from pairup.hosting import Hosted, Resumable
    from pairup.link.client import Link
    from pairup.participant import ParticipantRuntime
    from pairup.protocol import JoinLink
    from pairup.relay.chaos import Chaos, ChaosSpec
    from pairup.session.events import Person, SessionSettings
    from pairup.tui.app import PairupApp
    from pairup.tui.session import Participation

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]
CommandMaker = Callable[[str, str, str, Handler], "Command"]
"""Adds a subcommand: its name, its one-line summary, its description, its handler."""


class UserError(Exception):
    """A problem the user can fix; its message is printed as one line, without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handler(args)
    except UserError as error:
        from pairup.printable import printable

        print(f"pairup: {printable(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


# -- commands that work ------------------------------------------------------------------------


def _sessions(args: argparse.Namespace) -> int:
    from pairup.sessions import format_sessions, summarise_sessions

    config = load_settings(args).config
    summaries, problems = summarise_sessions(config.data_dir)
    for problem in problems:
        print(f"pairup: warning: {problem}", file=sys.stderr)
    if not summaries:
        print(f"No sessions recorded yet in {config.data_dir}. Start one with `pairup start`.")
        return EXIT_OK
    print(format_sessions(summaries))
    return EXIT_OK


def _start(args: argparse.Namespace) -> int:
    return _participate(args, join_text=None)


def _join(args: argparse.Namespace) -> int:
    return _participate(args, join_text=args.link)


def _participate(args: argparse.Namespace, join_text: str | None) -> int:
    """Run one participant, in the TUI or headless: host a new session (``join_text`` None)
    or join one."""
    import asyncio

    if args.headless:
        failure = asyncio.run(_headless(args, join_text))
    else:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UserError(
                "the terminal UI needs a terminal; for scripts and bots, add --headless"
            )
        failure = asyncio.run(_terminal_ui(args, join_text))
    if failure is not None:
        from pairup.printable import printable

        print(f"pairup: {printable(failure)}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


@dataclass(frozen=True)
class _Plan:
    """Who takes part in which session, as the config, the flags and the link say."""

    config: "Config"
    me: "Person"
    settings: "SessionSettings | None"
    join: "JoinLink | None"
    chaos: "ChaosSpec | None"
    """A fault drill for the embedded relay (``pairup start --chaos``)."""
    repository: Path
    """Where the session is held: the git top directory, else the current directory."""
    resume: "Resumable | None" = None
    """The hosted session to bring back (``pairup start --resume``)."""
    offer: "Resumable | None" = None
    """An unfinished hosted session a plain ``pairup start`` could resume instead."""
    port: int | None = None
    """A port given on the command line, to resume a session on when its own is taken."""


def _plan(args: argparse.Namespace, join_text: str | None) -> _Plan:
    from pydantic import ValidationError

    from pairup import hosting, launch
    from pairup.git.live import toplevel
    from pairup.protocol import JoinLink, LinkError
    from pairup.session.events import Person

    config = load_settings(args).config
    chaos = _chaos_spec(args)
    if chaos is not None and config.relay.url:
        raise UserError(
            "--chaos drills the relay inside pairup, and --relay uses another one; "
            "run that relay with `pairup relay --chaos SPEC` instead"
        )
    try:
        name, email = launch.identity(config, os.environ, Path.cwd())
        me = Person(name=name, email=email)
        settings = launch.session_settings(config) if join_text is None else None
        join = None if join_text is None else JoinLink.parse(join_text)
    except (launch.LaunchError, LinkError) as error:
        raise UserError(str(error)) from None
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        message = first["msg"].removeprefix("Value error, ")
        raise UserError(f"--{first['loc'][0]}: {message}") from None
    cwd = Path.cwd()
    repository = toplevel(cwd) or cwd
    port = config.relay.port if getattr(args, "port", None) is not None else None
    wanted: str | None = getattr(args, "resume", None)
    if join_text is not None:
        return _Plan(config, me, settings, join, chaos, repository)
    found = hosting.resumable(config.data_dir, repository)
    if wanted is None:
        return _Plan(config, me, settings, join, chaos, repository, offer=next(iter(found), None))
    chosen = [item for item in found if wanted in ("", item.hosted.session)]
    if not chosen:
        which = f"session {wanted}" if wanted else "unfinished session"
        raise UserError(
            f"no {which} hosted from {repository} on this machine to resume; "
            "pairup start opens a new one, and pairup sessions lists what is recorded here"
        )
    return _Plan(config, me, settings, join, chaos, repository, resume=chosen[0], port=port)


def _chaos_spec(args: argparse.Namespace) -> "ChaosSpec | None":
    from pairup.relay.chaos import ChaosSpec, ChaosSpecError

    text = getattr(args, "chaos", None)
    if text is None:
        return None
    try:
        return ChaosSpec.parse(text)
    except ChaosSpecError as error:
        raise UserError(str(error)) from None


async def _runtime(
    plan: _Plan, stack: contextlib.AsyncExitStack[None], *, interactive: bool
) -> tuple["ParticipantRuntime", bool]:
    """Start the embedded relay if this process hosts one (it stops with ``stack``) and make
    the participant's runtime, which the TUI and headless mode both drive; also says whether
    this process hosts the relay. A fault drill is announced on stderr unless a full-screen UI
    (``interactive``) shows it instead."""
    from pairup import launch
    from pairup.link.client import Link
    from pairup.participant import ParticipantRuntime
    from pairup.session.events import Participant

    config, join = plan.config, plan.join
    resume = plan.resume.hosted if plan.resume is not None else None
    # Whether the relay runs in this process: a resumed session's relay runs where it ran.
    hosting = resume.port != 0 if resume is not None else join is None and not config.relay.url
    chaos = None
    if plan.chaos is not None and hosting:
        from pairup.relay.chaos import Chaos
        from pairup.relay.run import announce

        chaos = Chaos(plan.chaos)
        if not interactive:
            print(announce(chaos), file=sys.stderr, flush=True)
        # Runs after the relay has stopped (the stack unwinds in reverse), with the screen gone.
        stack.callback(lambda: print(f"pairup relay: {chaos.summary()}", file=sys.stderr))
    try:
        if resume is not None:
            join = await _reopen(resume, plan, stack, chaos)
        elif join is None:
            join = await _open_new(plan, stack, chaos)
    except launch.LaunchError as error:
        raise UserError(str(error)) from None
    me = Participant(
        id=launch.participant_id(config.data_dir, join.session),
        name=plan.me.name,
        email=plan.me.email,
    )
    link = Link(
        join,
        me.id,
        config.data_dir,
        name=plan.me.name,
        create=plan.settings is not None,
        approve=config.session.approve,
        max_participants=config.session.max_participants,
        meta={"repository": str(plan.repository)},
    )
    if plan.settings is not None:
        # An ended session need not keep its secret on disk for a resume.
        stack.callback(_forget_if_ended, config.data_dir, link)
    runtime = ParticipantRuntime(
        link,
        me,
        settings=plan.settings,
        workdir=Path.cwd(),
        credit=config.git.credit,
        handover=config.handover,
    )
    return runtime, hosting


async def _open_new(
    plan: _Plan, stack: contextlib.AsyncExitStack[None], chaos: "Chaos | None"
) -> "JoinLink":
    """A new session on the relay inside pairup (or on --relay), remembered for a resume."""
    import asyncio
    import time

    from pairup import hosting, launch

    config = plan.config
    if config.relay.url:
        join = launch.new_join_link(config.relay.url)
        bind, port = "", 0
    else:
        listening = await stack.enter_async_context(launch.embedded_relay(config, chaos))
        join = launch.new_join_link(listening.url)
        bind, port = listening.bind, listening.port
    await asyncio.to_thread(
        hosting.remember,
        config.data_dir,
        hosting.Hosted(join.session, str(join), bind, port, str(plan.repository), time.time()),
    )
    return join


async def _reopen(
    resume: "Hosted",
    plan: _Plan,
    stack: contextlib.AsyncExitStack[None],
    chaos: "Chaos | None",
) -> "JoinLink":
    """The session ``resume`` names, on the same port as before (or on --port, which changes
    the link), so its partners' links still work."""
    import asyncio
    from dataclasses import replace

    from pairup import hosting, launch
    from pairup.protocol import JoinLink

    join = JoinLink.parse(resume.link)
    # Before the port or the record changes: a resume refused later, by the journal's lock,
    # would have moved the link its partners hold to a port nobody listens on.
    await asyncio.to_thread(_not_open_elsewhere, plan.config.data_dir, resume.session)
    if not resume.port:
        return join
    listening = await stack.enter_async_context(
        launch.embedded_relay(
            plan.config,
            chaos,
            bind=resume.bind,
            port=resume.port if plan.port is None else plan.port,
            resuming=True,
        )
    )
    where, _, pin = listening.url.partition("#")
    scheme = where.partition("://")[0]
    relay = f"{scheme}://{_with_port(join.relay, listening.port).partition('://')[2]}"
    if relay == join.relay and pin == join.pin:
        return join
    # Another port, another TLS setting, or a certificate made again (the old one expired): the
    # same session and secret behind a new link, which the partners need.
    moved = JoinLink(relay, join.session, join.secret, pin=pin)
    moved_record = replace(resume, link=str(moved), port=listening.port)
    await asyncio.to_thread(hosting.remember, plan.config.data_dir, moved_record)
    return moved


def _not_open_elsewhere(data_dir: Path, session: str) -> None:
    """Refuse to resume a session another pairup on this machine still takes part in: its
    journal's lock says so (it goes with the process, so a crashed host holds none)."""
    from pairup import launch
    from pairup.journal import Journal, JournalError, journal_path

    try:
        Journal.open(journal_path(data_dir, session)).close()
    except (OSError, JournalError) as error:
        raise launch.LaunchError(str(error)) from None


def _with_port(relay: str, port: int) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(relay)
    host = parts.hostname or ""
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _forget_if_ended(data_dir: Path, link: "Link") -> None:
    from pairup import hosting

    if link.confirmed.phase == "ended":
        hosting.forget(data_dir, link.join.session)


async def _headless(args: argparse.Namespace, join_text: str | None) -> str | None:
    """None once the session ended, else why taking part failed."""
    from pairup.headless import Headless
    from pairup.journal import JournalBusy
    from pairup.link.client import FINISHED

    plan = _plan(args, join_text)
    if plan.offer is not None:
        _offer_line(plan.offer)
    async with contextlib.AsyncExitStack() as stack:
        runtime, _ = await _runtime(plan, stack, interactive=False)
        try:
            final = await Headless(runtime).run()
        except JournalBusy as error:
            raise UserError(str(error)) from None
    return None if final.reason in FINISHED else final.reason or "disconnected"


def _offer_line(offer: "Resumable") -> None:
    """Headless: say that an unfinished session could be resumed, before opening a new one."""
    import json

    print(
        json.dumps(
            {
                "type": "resumable",
                "session": offer.hosted.session,
                "started": offer.summary.started,
                "participants": list(offer.summary.participants),
                "decisions": offer.summary.decisions,
                "resume": "pairup start --headless --resume",
            },
            separators=(",", ":"),
        ),
        flush=True,
    )


async def _offered_resume(app: "PairupApp", offer: "Resumable") -> bool:
    """TUI: ask whether to resume the unfinished session rather than open a new one."""
    from pairup.tui import text
    from pairup.tui.screens import Choice

    summary = offer.summary
    who = ", ".join(summary.participants) or "nobody yet"
    count = f"{summary.decisions} decision{'' if summary.decisions == 1 else 's'}"
    answer = await app.push_screen_wait(
        Choice(
            "Resume the unfinished session?",
            f"Session {offer.hosted.session}, started {text.time_of_day(summary.started)} "
            f"with {who}; {count}. Its join link still works for your partners.",
            [("resume", "r", "Resume it"), ("new", "s", "Start a new session")],
        )
    )
    return answer == "resume"


async def _terminal_ui(args: argparse.Namespace, join_text: str | None) -> str | None:
    """The screen comes up first; the session opens behind it (ADR 10). A mistake the user
    must fix closes the screen and is reported like any other command's."""
    import asyncio
    import importlib

    from pairup.tui.app import CannotOpen, PairupApp

    mistakes: list[UserError] = []
    async with contextlib.AsyncExitStack() as stack:

        async def opener(app: "PairupApp") -> "Participation":
            # The session's modules (pydantic, websockets, SQLite) load in a thread while the
            # first frame is drawn.
            await asyncio.to_thread(importlib.import_module, "pairup.tui.session")
            from dataclasses import replace

            from pairup import launch
            from pairup.journal import journal_path
            from pairup.tui.session import Participation, Preferences

            try:
                plan = await asyncio.to_thread(_plan, args, join_text)
                if plan.offer is not None and await _offered_resume(app, plan.offer):
                    plan = replace(plan, resume=plan.offer, offer=None)
                stack.enter_context(launch.log_to_file(plan.config.data_dir))
                runtime, hosting = await _runtime(plan, stack, interactive=True)
            except UserError as error:
                mistakes.append(error)
                raise CannotOpen(str(error)) from None
            config = plan.config
            prefs = Preferences(
                bell=config.notify.bell,
                notify_command=tuple(config.notify.command),
                retro=config.session.retro,
                hosting=hosting,
                journal=journal_path(config.data_dir, runtime.link.join.session),
                adr_format=config.adr.format,
                adr_dir=config.adr.dir,
                record_dir=config.adr.record_dir,
            )
            return Participation(runtime, prefs=prefs)

        app = PairupApp(opener)
        failure = await app.run_async()
    if mistakes:
        raise mistakes[0]
    if failure is None and app.return_code:
        # Textual has printed what went wrong; the session itself is safe in the journal.
        return (
            "the screen stopped on an error (above; pairup.log in the data directory has more); "
            "nothing of the session is lost: pairup start --resume, or the same join link, "
            "takes you back"
        )
    return failure


def _live_co_authors(cwd: Path) -> "tuple[LiveSession, tuple[trailers.Person, ...]] | None":
    """The session live in this repository and whom it credits, with emails corrected as a
    commit for the session corrects them; a warning on stderr for each email GitHub could not
    match."""
    from pairup.git.committing import resolve_credit
    from pairup.git.live import git_dirs, read_live

    dirs = git_dirs(cwd)
    live = None if dirs is None else read_live(dirs[1])
    if dirs is None or live is None:
        return None
    people, warnings = resolve_credit(live.co_authors, cwd, os.environ)
    from pairup.printable import printable

    for warning in warnings:
        print(f"pairup: warning: {printable(warning)}", file=sys.stderr)
    return live, people


NO_SESSION = "no pairing session is live in this repository: start or join one from here"


def _trailers(args: argparse.Namespace) -> int:
    from pairup.git.trailers import add_co_authors
    from pairup.printable import printable

    cwd = Path.cwd()
    if args.message_file:
        found = _live_co_authors(cwd)
        if found is None:
            return EXIT_OK
        live, people = found
        path = Path(args.message_file)
        try:
            message = path.read_text(encoding="utf-8")
            author = os.environ.get("GIT_AUTHOR_EMAIL") or live.me.email
            path.write_text(add_co_authors(message, people, author_email=author), encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot update {path}: {error.strerror}") from None
        return EXIT_OK
    found = _live_co_authors(cwd)
    if found is None:
        raise UserError(NO_SESSION)
    live, people = found
    if not args.amend:
        for person in people:
            if person.email.casefold() != live.me.email.casefold():
                print(printable(str(person.trailer())))
        return EXIT_OK
    from pairup.git.repo import GitError, amend_with_co_authors, open_repository

    try:
        repo = open_repository(cwd)
        amended = amend_with_co_authors(repo, people, os.environ)
    except GitError as error:
        raise UserError(str(error)) from None
    if amended is None:
        print("HEAD already credits everyone pairing; nothing to amend")
    else:
        print(printable(f"[{amended.sha[:7]}] {amended.summary}"))
        for person in amended.co_authors:
            print(printable(f"    {person.trailer()}"))
    return EXIT_OK


def _commit(args: argparse.Namespace) -> int:
    """Through the running pairup when it listens (it has git loaded and records the commit in
    the session at once), else in this process. The plain forms of the options never get here
    while a pairup listens: :mod:`pairup.commit_request` sends them before this module loads."""
    from pairup import commit_request
    from pairup.git.live import git_dirs, read_live

    if not args.message:
        raise UserError("give the commit message with -m MESSAGE")
    cwd = Path.cwd()
    dirs = git_dirs(cwd)
    if dirs is None:
        raise UserError(f"{cwd} is not inside a git repository")
    live = read_live(dirs[1])
    if live is None:
        raise UserError(f"{NO_SESSION}, or commit with git")
    request: dict[str, object] = {
        "op": "commit",
        "message": args.message,
        "all": args.all,
        "verify": not args.no_verify,
        "env": dict(os.environ),
        "cwd": str(cwd),
    }
    reply = commit_request.ask(live.socket, request) if live.socket else None
    if reply is None or reply.get("elsewhere"):
        # Nobody listens, or the running pairup works in another worktree of this repository.
        reply = _commit_here(args, cwd)
    return commit_request.show(reply)


def _commit_here(args: argparse.Namespace, cwd: Path) -> dict[str, object]:
    """The commit made in this process, crediting whom the live-session file names, and the
    answer the running pairup would have given."""
    from pairup.git.committing import commit_for_session
    from pairup.git.live import git_dirs, read_live
    from pairup.git.repo import GitError, open_repository

    dirs = git_dirs(cwd)
    live = None if dirs is None else read_live(dirs[1])
    if live is None:
        raise UserError(f"{NO_SESSION}, or commit with git")
    try:
        done = commit_for_session(
            open_repository(cwd),
            cwd,
            args.message,
            live.co_authors,
            os.environ,
            stage_all=args.all,
            verify=not args.no_verify,
        )
    except GitError as error:
        return {"ok": False, "error": str(error)}
    return done.answer()


def _export(args: argparse.Namespace) -> int:
    import time

    from pairup.adr.export import ExportError, Where, export, find_session
    from pairup.git.live import toplevel
    from pairup.printable import printable

    config = load_settings(args).config
    start = Path(args.repo) if args.repo else Path.cwd()
    repo = toplevel(start)
    if repo is None:
        raise UserError(f"{start} is not inside a git repository; give the repository with --repo")
    fmt = args.format or config.adr.format
    where = Where(
        repo=repo,
        adr_dir=config.adr.dir,
        record_dir=config.adr.record_dir,
        out=Path(args.out).resolve() if args.out else None,
    )
    try:
        info = find_session(config.data_dir, args.session, repo)
        written = export(
            info, fmt, where, record=not args.no_record, now=time.time(), force=args.force
        )
    except ExportError as error:
        raise UserError(str(error)) from None
    for item in written:
        shown = item.path.relative_to(repo) if item.path.is_relative_to(repo) else item.path
        why = f"  ({item.reason})" if item.reason else ""
        print(printable(f"{item.action:>9}  {shown}{why}"))
    if any(item.action == "kept" for item in written):
        print(
            "pairup kept what you changed; pairup export --force writes its version, "
            "saving yours beside it as .NAME.orig"
        )
    if not written:
        print(f"session {info.session_id} has no decisions to export")
    return EXIT_OK


def _hook(args: argparse.Namespace) -> int:
    from pairup.git.hook import HookError, install, uninstall

    try:
        said = install(Path.cwd()) if args.action == "install" else uninstall(Path.cwd())
    except HookError as error:
        raise UserError(str(error)) from None
    print(f"pairup: {said}")
    return EXIT_OK


def _relay(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from pairup import tls as pinning
    from pairup.relay.chaos import Chaos
    from pairup.relay.limits import LimitError, parse_limits
    from pairup.relay.run import run_relay

    config = load_settings(args).config
    if bool(args.cert) != bool(args.key):
        raise UserError("give both --cert and --key to serve wss://, or neither for ws://")
    if args.cert and args.self_signed:
        raise UserError("--self-signed makes the relay's own certificate: leave out --cert/--key")
    try:
        limits = parse_limits(args.limit)
    except LimitError as error:
        raise UserError(str(error)) from None
    if args.store is not None and not args.store.startswith("nats://"):
        raise UserError(
            f"--store {args.store!r}: expected nats://HOST:PORT[,HOST:PORT…] (without --store "
            "the relay keeps sessions in its data dir)"
        )
    if not 1 <= args.replicas <= 5:
        raise UserError(f"--replicas {args.replicas}: JetStream keeps 1 to 5 copies; 3 is usual")
    tls = None
    if args.cert:
        try:
            tls = pinning.server_context(Path(args.cert), Path(args.key))
        except pinning.TlsError as error:
            raise UserError(f"--cert/--key: {error}") from None
    elif args.self_signed:
        try:
            pin, tls = pinning.serving(config.data_dir)
        except pinning.TlsError as error:
            raise UserError(str(error)) from None
        print(
            f"pairup relay certificate pin {pin}: start sessions on this relay with "
            f"pairup start --relay 'wss://HOST:PORT#{pin}'",
            flush=True,
        )
    from pairup.relay.store import StoreError

    chaos_spec = _chaos_spec(args)
    chaos = None if chaos_spec is None else Chaos(chaos_spec)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # A line per connection opened or closed, even with -v, would make a flood a flood of
    # lines: the relay sums refusals up once a minute instead.
    logging.getLogger("pairup.relay.connections").setLevel(logging.WARNING)
    try:
        asyncio.run(
            run_relay(
                config.relay.host,
                config.relay.port,
                config.data_dir,
                tls=tls,
                chaos=chaos,
                limits=limits,
                store=args.store,
                replicas=args.replicas,
            )
        )
    except StoreError as error:
        if args.store is not None:
            raise UserError(str(error)) from None
        raise UserError(f"cannot use the relay's data: {error}") from None
    except OSError as error:
        raise UserError(
            f"cannot listen on {config.relay.host}:{config.relay.port}: {error.strerror or error}"
        ) from None
    return EXIT_OK


def _config(args: argparse.Namespace) -> int:
    from pairup.config import describe

    print(describe(load_settings(args)), end="")
    return EXIT_OK


def load_settings(args: argparse.Namespace) -> "LoadedConfig":
    """Settings from every layer, with this command's flags on top."""
    from pairup.config import ConfigError, load_config

    flags = {key: getattr(args, dest) for dest, key in getattr(args, "config_flags", {}).items()}
    try:
        return load_config(cwd=Path.cwd(), env=os.environ, flags=flags)
    except ConfigError as error:
        raise UserError(str(error)) from None


# -- the parser ----------------------------------------------------------------------------------

_DESCRIPTION = """\
Remote pair and mob programming from the terminal.

Start a session, share the join link, and pairup keeps one roster, one driver and
one countdown on every screen; roles rotate everywhere at once. Decisions you note
while pairing become draft ADRs, and commits credit everyone who paired."""

_EPILOG = """\
examples:
  pairup start --turn 10m          open a session with 10-minute turns
  pairup join 'wss://host:port/s/ID#SECRET.PIN'
  pairup join 'https://host:port/w/ID#WATCH.PIN'  follow a session, changing nothing
                                   (the same watch link opens in a browser)
  pairup sessions                  list the sessions recorded on this machine
  pairup why src/relay.py:42       the commit, session and decisions behind a line
  pairup log --since 2w            this repository's sessions, decisions and commits
  pairup adr accept 3              mark ADR 3 accepted in its file
  pairup config                    show the settings in effect and where each comes from

settings come from (later wins): pairup's defaults < your config file
(~/.config/pairup/config.toml, or $PAIRUP_CONFIG) < the repository's .pairup.toml
< PAIRUP_<SECTION>_<KEY> environment variables < command-line flags.
run `pairup COMMAND --help` for a command's options."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairup",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pairup {__version__}")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str, handler: Handler) -> Command:
        sub = commands.add_parser(
            name,
            help=summary,
            description=description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler, config_flags={})
        return Command(sub)

    start = command(
        "start",
        "open a session in the terminal UI and show its join link",
        "Open a pairing session in the terminal UI. Unless --relay is given, a relay runs\n"
        "inside pairup and the screen shows a join link for your partner(s).",
        _start,
    )
    _session_flags(start)
    start.parser.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="SESSION",
        help="bring back the most recent unfinished session hosted from this repository (or "
        "SESSION): same session, secret and port, so your partners' link still works and "
        "their pairup reconnects by itself",
    )
    _hosting_flags(start)
    _chaos_flag(start)
    _headless_flag(start)

    join = command(
        "join",
        "join (or watch) a session from the link its host shared",
        "Join a pairing session in the terminal UI, from the join link shown by `pairup start`.\n"
        "With its watch link (https://…/w/ID#…) you follow the session live and change nothing;\n"
        "the same link pasted into a browser shows the session in the page the relay serves.",
        _join,
    )
    join.parser.add_argument(
        "link",
        metavar="LINK",
        help="the join link, wss://HOST:PORT/s/ID#SECRET, or the watch link, https://HOST:PORT/w/ID#…",
    )
    _session_flags(join)
    _headless_flag(join)

    relay = command(
        "relay",
        "run a standalone relay that sequences and stores sessions",
        "Run a relay on its own, for a team that wants one always-on address.\n"
        "Sessions on it are sequenced, stored durably and guarded by their join secret.",
        _relay,
    )
    relay.setting("--host", "relay.host", "HOST", "address to bind (default from config)")
    relay.setting("--port", "relay.port", "PORT", "port to bind (0 = any free)")
    relay.setting("--data-dir", "data.dir", "DIR", "where the relay keeps its store")
    relay.parser.add_argument("--cert", metavar="FILE", help="TLS certificate, to serve wss://")
    relay.parser.add_argument("--key", metavar="FILE", help="TLS private key for --cert")
    relay.parser.add_argument(
        "--self-signed",
        action="store_true",
        help="serve wss:// with a certificate of the relay's own (kept in the data dir) and "
        "print its pin: sessions on it start with pairup start --relay 'wss://HOST:PORT#PIN'",
    )
    _store_flags(relay)
    _limits_flag(relay)
    _chaos_flag(relay)

    export = command(
        "export",
        "write a session's decisions as draft ADRs, and its session record",
        "Export a session: each decision becomes a draft ADR in the repository's ADR folder,\n"
        "and a session record (timeline, driving time, commits, lessons) is written beside them.",
        _export,
    )
    export.parser.add_argument(
        "session", metavar="SESSION", nargs="?", help="session id (default: the most recent)"
    )
    export.parser.add_argument(
        "--format",
        choices=["adr", "madr", "log4brains", "markdown", "json"],
        help="adr (adr-tools), madr or log4brains files, or the session as markdown or json "
        "(default: adr.format from config)",
    )
    export.parser.add_argument("--out", metavar="DIR", help="write here instead of the ADR folder")
    export.parser.add_argument("--repo", metavar="DIR", help="the repository (default: here)")
    export.parser.add_argument(
        "--no-record", action="store_true", help="write the ADRs only, not the session record"
    )
    export.parser.add_argument(
        "--force",
        action="store_true",
        help="replace files changed since pairup wrote them with pairup's version, saving each "
        "as .NAME.orig beside it (without it, a file a person changed is kept as it is)",
    )
    export.setting("--data-dir", "data.dir", "DIR", "read sessions from this directory")

    sessions = command(
        "sessions",
        "list the sessions recorded on this machine",
        "List the sessions in pairup's data directory: when, who, how long, how many\n"
        "decisions and commits.",
        _sessions,
    )
    sessions.setting("--data-dir", "data.dir", "DIR", "read sessions from this directory")

    commit = command(
        "commit",
        "commit with Co-authored-by trailers for everyone pairing",
        "Create a commit from the index, authored by you, crediting everyone present in the\n"
        "session with Co-authored-by trailers. Runs the repository's pre-commit and\n"
        "commit-msg hooks.",
        _commit,
    )
    commit.parser.add_argument("-m", "--message", metavar="MSG", help="the commit message")
    commit.parser.add_argument(
        "-a", "--all", action="store_true", help="stage changes to tracked files first"
    )
    commit.parser.add_argument(
        "--no-verify", action="store_true", help="skip the pre-commit and commit-msg hooks"
    )

    trailers = command(
        "trailers",
        "print the Co-authored-by trailers of the current session",
        "Print the Co-authored-by trailers for the session live in this repository,\n"
        "or add them to the last commit with --amend.",
        _trailers,
    )
    trailers.parser.add_argument(
        "--amend", action="store_true", help="add the trailers to HEAD, without duplicates"
    )
    trailers.parser.add_argument(
        "--message-file",
        metavar="FILE",
        help="add the trailers to this commit message file (what the hook does); "
        "nothing happens when no session is live",
    )

    hook = command(
        "hook",
        "install or uninstall the prepare-commit-msg hook in this repository",
        "Install a prepare-commit-msg hook in this repository (never globally), so plain\n"
        "`git commit` gets the trailers while a session is live. An existing hook is chained.",
        _hook,
    )
    hook.parser.add_argument("action", choices=["install", "uninstall"], help="what to do")

    from pairup.adr.cli import add_adr_commands
    from pairup.history.cli import add_history_commands

    for add_commands in (add_adr_commands, add_history_commands):
        add_commands(command)

    config = command(
        "config",
        "show the settings in effect and where each one comes from",
        "Print the effective settings as TOML, each with the file, variable or flag it came\n"
        "from. A mistake in any config file is reported with its file and key.",
        _config,
    )
    _session_flags(config)
    return parser


class Command:
    """A subcommand's parser, plus the flags that override settings by their dotted key (read
    by a handler through :func:`load_config`)."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def setting(self, flag: str, key: str, metavar: str, help_text: str) -> None:
        dest = flag.lstrip("-").replace("-", "_")
        self.parser.add_argument(flag, dest=dest, metavar=metavar, help=help_text)
        self.parser.get_default("config_flags")[dest] = key


def _hosting_flags(command: Command) -> None:
    """Where the session's relay is, how it is reached, and who may come in."""
    command.setting(
        "--relay",
        "relay.url",
        "URL",
        "use the relay at this ws:// or wss:// URL (wss://HOST:PORT#PIN for one serving the "
        "certificate pairup relay --self-signed made)",
    )
    command.setting("--host", "relay.host", "HOST", "address the embedded relay binds to")
    command.setting("--port", "relay.port", "PORT", "port of the embedded relay (0 = any free)")
    command.setting("--advertise", "relay.advertise", "HOST", "host written into the join link")
    command.setting(
        "--tls",
        "relay.tls",
        "MODE",
        "self-signed (default): the embedded relay serves wss:// with its own certificate, "
        "pinned by the link; off: plain ws://",
    )
    command.parser.add_argument(
        "--approve",
        action="store_const",
        const="true",
        dest="approve",
        help="newcomers wait until you let them in, seeing their name and key fingerprint "
        "(also session.approve in the config)",
    )
    command.parser.get_default("config_flags")["approve"] = "session.approve"


def _store_flags(command: Command) -> None:
    """``--store`` and ``--replicas`` (a relay of a fleet, on JetStream), and ``-v``."""
    command.parser.add_argument(
        "--store",
        metavar="URL",
        help="keep sessions in a NATS JetStream cluster instead of the data dir's SQLite file, "
        "e.g. nats://nats1:4222,nats2:4222,nats3:4222: any number of relays on one "
        "cluster serve the same sessions (docs/operations.md)",
    )
    command.parser.add_argument(
        "--replicas",
        type=int,
        default=3,
        metavar="N",
        help="JetStream nodes that keep each session, with --store (default 3; 1 for a single "
        "server)",
    )
    command.parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log refused admissions, expiry and each injected fault on stderr",
    )


def _limits_flag(command: Command) -> None:
    """``--limit NAME=VALUE``, with every limit, its default and what it bounds in the help."""
    from pairup.relay.limits import describe_limits

    command.parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one of the limits below (as often as needed), e.g. --limit burst=100",
    )
    command.parser.epilog = describe_limits()


def _chaos_flag(command: Command) -> None:
    command.parser.add_argument(
        "--chaos",
        metavar="SPEC",
        help="run a fault drill: the relay loses, repeats, delays and reorders messages and "
        "cuts connections on purpose, e.g. drop=0.1,dup=0.05,delay=0-100ms,disconnect=0.02,"
        "seed=7 (also reorder=P, pause=P:2s), or a preset of config/drills.toml such as "
        "flaky-wifi; announced on every screen, counted at exit",
    )


def _headless_flag(command: Command) -> None:
    command.parser.add_argument(
        "--headless",
        action="store_true",
        help="no terminal UI: JSON lines on stdout (the link, events, connection state), "
        'JSON commands on stdin, e.g. {"cmd": "decide", "title": "..."}',
    )


def _session_flags(command: Command) -> None:
    command.setting("--turn", "session.turn", "DURATION", "turn length, e.g. 90s, 15m, 1h30m")
    command.setting("--name", "identity.name", "NAME", "your name as others see it")
    command.setting("--email", "identity.email", "EMAIL", "your email, for commit credit")
    command.setting("--data-dir", "data.dir", "DIR", "where session journals are kept")
