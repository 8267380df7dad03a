"""What one relay allows, as settings of ``pairup relay --limit NAME=VALUE``.

Kept apart from the relay's machinery so ``pairup --help`` can list the limits without
loading websockets. The defaults suit a team's relay on a small machine and are out of an
honest participant's reach: its link sends at most 40 events a second
(:data:`pairup.link.client.OUTBOX_RATE`), the pace at which it re-seeds a relay that lost
its sessions. ADR 25 says why each cap is where it is.
"""

import dataclasses
import textwrap
from dataclasses import dataclass, field
from typing import Any

from pairup.duration import DurationError, parse_duration

MiB = 1024 * 1024
MAX_BODY_BYTES = 48 * 1024
""":data:`pairup.protocol.MAX_BODY_BYTES`, which this module does not import: pydantic is
more than ``pairup --help`` should load."""


def _limit(default: float, help_text: str) -> Any:
    """A limit with the line that ``pairup relay --help`` shows for it."""
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True, slots=True)
class Limits:
    """What one relay allows; each field's help says what it bounds (ADR 25)."""

    hello_timeout: float = _limit(
        10.0, "seconds from a connection's first byte to its hello, the HTTP handshake included"
    )
    reject_delay: float = _limit(
        0.5, "seconds before a wrong secret or an unknown session is answered (both alike)"
    )
    messages_per_second: float = _limit(
        50.0,
        "frames a participant may send a second, websocket pings included, over all its "
        "connections (a reconnect does not refill it)",
    )
    burst: int = _limit(200, "frames a participant may send at once before the rate applies")
    session_events_per_second: float = _limit(
        100.0, "new events a session may store a second, all its participants together"
    )
    session_event_burst: int = _limit(1000, "new events a session may store at once")
    session_bytes_per_second: float = _limit(
        256 * 1024, "bytes of event bodies a session may store a second"
    )
    session_byte_burst: int = _limit(
        16 * MiB, "bytes of event bodies a session may store at once (at least 48 KiB)"
    )
    ids_per_seat: int = _limit(
        4,
        "different participant ids a session admits over its life, per seat of its "
        "max_participants",
    )
    watchers_per_session: int = _limit(
        16, "watchers connected to one session at once (they do not take participants' seats)"
    )
    approval_wait: float = _limit(
        600.0, "seconds a newcomer waits for the host to let them in before it is turned away"
    )
    waiting_per_session: int = _limit(8, "newcomers waiting for the host of one session at once")
    connections: int = _limit(
        0,
        "connections in all; 0 = the process's file limit less a reserve for the store "
        "and connections being accepted (256, or a quarter of a smaller limit)",
    )
    pending_connections: int = _limit(
        256,
        "connections not admitted yet (handshake, hello), in all, at most a quarter of "
        "connections; as many again may be waiting to hear they are refused",
    )
    pending_per_ip: int = _limit(8, "connections not admitted yet from one address")
    connections_per_ip: int = _limit(64, "connections from one address (HTTP 429 beyond)")
    refusal_grace: float = _limit(
        1.0, "seconds a refused connection has to send its request and hear why"
    )
    failed_admissions_per_ip: int = _limit(
        30, "refused hellos from one address per failure_window before it is turned away"
    )
    sessions_created_per_ip: int = _limit(30, "new sessions from one address per failure_window")
    failure_window: float = _limit(60.0, "seconds the two limits above count over")
    sessions_created: int = _limit(
        200, "new sessions in all per sessions_created_window, from every address together"
    )
    sessions_created_window: float = _limit(3600.0, "seconds sessions_created counts over")
    unused_session_seconds: float = _limit(
        3600.0, "seconds after which a session that never got an event is deleted"
    )
    idle_session_seconds: float = _limit(
        7 * 24 * 3600.0, "seconds after which a session nobody uses is deleted"
    )
    expiry_interval: float = _limit(600.0, "seconds between two looks for sessions to delete")
    refusal_log_interval: float = _limit(
        60.0, "seconds between the log's summary lines of refused connections"
    )
    commit_batch: int = _limit(512, "events at most in one commit to the store")
    max_unsent_bytes: int = _limit(
        4 * MiB, "bytes waiting to be sent to a connection before it is cut (it resumes)"
    )
    keepalive_interval: float = _limit(
        20.0, "seconds between the relay's pings of a connection; one unanswered by the next is cut"
    )
    close_timeout: float = _limit(
        5.0, "seconds a closing connection has to take its close frame before it is cut"
    )
    presence_interval: float = _limit(
        5.0,
        "in a fleet (--store nats://), seconds between a relay's reports of who is connected "
        "to it; a relay not heard for three of them counts nobody",
    )


class LimitError(ValueError):
    """A ``--limit`` that cannot be used; the message says what a good one looks like."""


def parse_limits(items: list[str]) -> Limits:
    """The limits with each ``NAME=VALUE`` of ``items`` in place of its default. Whole
    numbers for counts; seconds as a number or a duration such as ``90s`` or ``1h``."""
    fields = {limit.name: limit for limit in dataclasses.fields(Limits)}
    chosen: dict[str, float] = {}
    for item in items:
        name, equals, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not equals:
            raise LimitError(f"--limit {item!r}: expected NAME=VALUE, e.g. burst=100")
        if name not in fields:
            import difflib  # Only for a mistake: ``pairup --help`` loads this module.

            close = difflib.get_close_matches(name, fields, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise LimitError(
                f"--limit {item!r}: no limit is called {name}; {hint}pairup relay --help lists them"
            )
        chosen[name] = _value(name, fields[name].type is int, text.strip())
    limits = Limits(**chosen)  # type: ignore[arg-type]
    if limits.session_byte_burst < MAX_BODY_BYTES:
        # One event must fit in the session's burst, or no big event could ever be stored.
        raise LimitError(f"--limit session_byte_burst: at least {MAX_BODY_BYTES} (48 KiB)")
    return limits


def _value(name: str, whole: bool, text: str) -> float:
    try:
        value: float = int(text) if whole else float(text)
    except ValueError:
        if whole:
            raise LimitError(f"--limit {name}: expected a whole number, got {text!r}") from None
        try:
            value = parse_duration(text)
        except DurationError:
            raise LimitError(
                f"--limit {name}: expected seconds (a number, or a duration like 90s or 1h), "
                f"got {text!r}"
            ) from None
    # Only ``connections`` has a meaning for 0 (from the file limit); a rate of 0 would
    # refuse everything, and a time of 0 would close everything at once.
    if not (0 < value < float("inf") or (value == 0 and name == "connections")):
        raise LimitError(f"--limit {name}: expected a number above 0, got {text!r}")
    return value


def describe_limits() -> str:
    """Every limit with its default and what it bounds, for ``pairup relay --help``."""
    lines = ["limits (--limit NAME=VALUE, as often as needed; the default in brackets):"]
    for limit in dataclasses.fields(Limits):
        lines.append(f"  {limit.name} [{_shown(limit.default)}]")
        lines.append(
            textwrap.fill(
                limit.metadata["help"], 78, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
        )
    return "\n".join(lines)


def _shown(default: object) -> str:
    """A default as one would type it: 604800 rather than 604800.0 or 6.048e+05."""
    return f"{default:g}" if isinstance(default, float) and default < 1e6 else f"{default:.0f}"
