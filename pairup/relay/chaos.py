"""Fault drills: a seeded layer that makes the relay lose, repeat, delay and reorder messages.

``pairup relay --chaos SPEC`` (or ``pairup start --chaos SPEC``) turns it on, for a team to
watch its sessions survive a bad network, and for pairup's own chaos suite. It works at message
level, on the frames of admitted participants in both directions (the handshake, hello and
welcome are left alone, so a drill tests the session, not the door):

- ``drop=P``: the message is lost;
- ``dup=P``: it is delivered twice;
- ``delay=[P:]A-B``: it is held back a random time between A and B (``ms`` or ``s``), for every
  message or for a share ``P`` of them; held-back messages can overtake each other;
- ``reorder=P``: it is held back and handed over right after the next message on the same
  connection and in the same direction (or lost, if none follows);
- ``disconnect=P``: the participant's connection is cut (no close frame) instead;
- ``pause=P[:DURATION]``: the whole relay stops for DURATION (1 s unless given): it reads
  nothing and sends nothing until the pause is over;
- ``seed=N``: the random generator's seed (0 unless given), so the same seed draws the same
  faults for the same messages.

Instead of a spec, ``--chaos`` takes the name of a preset from the shipped ``drills.toml``
(``config/drills.toml`` in the source tree), such as ``lossy`` or ``flaky-wifi``: the drills a
team reaches for, kept in one file that says what each one rehearses.

Every fault is counted and logged on the ``pairup.relay.chaos`` logger; :meth:`Chaos.summary`
is printed when the relay stops.
"""

import asyncio
import difflib
import logging
import random
import re
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("pairup.relay.chaos")

FAULTS = ("drop", "dup", "delay", "reorder", "disconnect", "pause")
PRESETS_FILE_NAME = "drills.toml"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")
_PRESET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class ChaosSpecError(ValueError):
    """A spec that cannot be read; the message names the part and what it should be."""


@dataclass(frozen=True, slots=True)
class ChaosSpec:
    """What a drill injects, each fault with the probability that a message suffers it."""

    drop: float = 0.0
    dup: float = 0.0
    delay: float = 0.0
    delay_range: tuple[float, float] = (0.0, 0.0)
    """Seconds, low and high."""
    reorder: float = 0.0
    disconnect: float = 0.0
    pause: float = 0.0
    pause_for: float = 1.0
    """Seconds."""
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> "ChaosSpec":
        """Read ``drop=0.1,dup=0.05,delay=0-100ms,disconnect=0.02,seed=7`` and the like, or the
        name of a preset such as ``lossy``. A lone fault's name (``drop``) is a spec missing its
        value, not a preset, so it is told how to write one."""
        name = text.strip()
        if _PRESET_NAME.fullmatch(name) and name not in (*FAULTS, "seed"):
            return cls.preset(name)
        return cls._read(text)

    @classmethod
    def preset(cls, name: str) -> "ChaosSpec":
        """The drill named ``name`` in the shipped presets; a name that is not there is one
        line that suggests the closest and lists them all."""
        path, presets = read_presets()
        spec = presets.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, presets, n=1)
            guess = f" (did you mean {close[0]}?)" if close else ""
            raise ChaosSpecError(
                f"chaos: no preset named {name!r}{guess}; presets: {', '.join(presets)}; "
                "or give a spec such as drop=0.1,seed=7"
            )
        try:
            return cls._read(spec)
        except ChaosSpecError as error:
            reason = str(error).removeprefix("chaos: ")
            raise ChaosSpecError(f"chaos: preset {name!r} in {path}: {reason}") from None

    @classmethod
    def _read(cls, text: str) -> "ChaosSpec":
        values: dict[str, object] = {}
        for part in (piece.strip() for piece in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or not value.strip():
                raise ChaosSpecError(f"chaos: {part!r} should be NAME=VALUE, e.g. drop=0.1")
            if name in values:
                raise ChaosSpecError(f"chaos: {name} is given twice")
            value = value.strip()
            if name == "seed":
                if not value.isdigit():
                    raise ChaosSpecError(f"chaos: seed should be a whole number, not {value!r}")
                values["seed"] = int(value)
            elif name == "delay":
                rate, colon, span = value.rpartition(":")
                values["delay"] = _probability(name, rate) if colon else 1.0
                values["delay_range"] = _span(span)
            elif name == "pause":
                rate, colon, duration = value.partition(":")
                values["pause"] = _probability(name, rate)
                if colon:
                    values["pause_for"] = _duration(name, duration)
            elif name in FAULTS:
                values[name] = _probability(name, value)
            else:
                raise ChaosSpecError(
                    f"chaos: unknown fault {name!r}; known: {', '.join(FAULTS)} and seed"
                )
        spec = cls(**values)  # type: ignore[arg-type]
        if not spec.active:
            raise ChaosSpecError(
                "chaos: no fault given; e.g. drop=0.1,dup=0.05,delay=0-100ms,disconnect=0.02"
            )
        return spec

    @property
    def active(self) -> bool:
        return any((self.drop, self.dup, self.delay, self.reorder, self.disconnect, self.pause))

    def __str__(self) -> str:
        parts = [
            f"{name}={getattr(self, name):g}" for name in ("drop", "dup") if getattr(self, name)
        ]
        if self.delay:
            low, high = (round(bound * 1000) for bound in self.delay_range)
            rate = "" if self.delay == 1.0 else f"{self.delay:g}:"
            parts.append(f"delay={rate}{low}-{high}ms")
        parts += [
            f"{name}={getattr(self, name):g}"
            for name in ("reorder", "disconnect")
            if getattr(self, name)
        ]
        if self.pause:
            parts.append(f"pause={self.pause:g}:{self.pause_for:g}s")
        parts.append(f"seed={self.seed}")
        return ",".join(parts)


def read_presets() -> tuple[Path, dict[str, str]]:
    """The shipped presets file and its drills, name -> spec, in the file's order. A file
    that is missing or is not a table of strings is an error, not an empty list of presets."""
    from pairup.config.shipped import MISSING, SHIPPED_DIR

    path = SHIPPED_DIR / PRESETS_FILE_NAME
    try:
        presets = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChaosSpecError(f"chaos: {path}: {MISSING}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ChaosSpecError(f"chaos: cannot read the presets in {path}: {error}") from None
    for name, spec in presets.items():
        if not isinstance(spec, str):
            raise ChaosSpecError(f"chaos: preset {name!r} in {path} should be a spec string")
    return path, presets


def _probability(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ChaosSpecError(f"chaos: {name} should be a probability from 0 to 1, not {text!r}")
    return value


def _duration(name: str, text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise ChaosSpecError(f"chaos: {name} duration should look like 100ms or 2s, not {text!r}")
    number, unit = match.groups()
    return float(number) / (1000.0 if unit == "ms" else 1.0)


def _span(text: str) -> tuple[float, float]:
    low, dash, high = text.partition("-")
    if not dash:
        raise ChaosSpecError(f"chaos: delay should be a range like 0-100ms, not {text!r}")
    unit = "ms" if high.strip().endswith("ms") else "s" if high.strip().endswith("s") else ""
    if unit and not low.strip().endswith(("ms", "s")):
        low = low.strip() + unit
    bounds = (_duration("delay", low), _duration("delay", high))
    if bounds[0] > bounds[1]:
        raise ChaosSpecError(f"chaos: delay range {text!r} runs backwards")
    return bounds


class Port(Protocol):
    """A connection as the drill sees it: something to name in its log, and to cut."""

    @property
    def id(self) -> int: ...

    def abort(self) -> None: ...


Send = Callable[[Port, list[bytes]], None]
"""How the relay sends frames on one connection at once (no chaos of its own)."""


class Chaos:
    """The drill running in one relay: decides each message's fate and carries it out."""

    def __init__(self, spec: ChaosSpec, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(spec.seed)
        self._paused_until = 0.0
        self._held: dict[tuple[Port, str], list[str | bytes]] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    # -- inbound -----------------------------------------------------------------------------

    def incoming(self, connection: Port, raw: str | bytes) -> list[tuple[float, str | bytes]]:
        """What the relay should handle for one received message, and after how many seconds:
        nothing, the message, copies of it, or messages held back before it. A delayed
        message does not hold up the ones behind it: each is late on its own. While the relay
        is paused, everything waits for the pause to end."""
        paused = max(0.0, self._paused_until - self.clock())
        fate, copies = self._draw(connection, "in")
        if fate in ("disconnect", "drop"):
            return []
        if fate == "reorder":
            self._held.setdefault((connection, "in"), []).extend([raw] * copies)
            return []
        delay = paused + (self._delay() if fate == "delay" else 0.0)
        released = self._held.pop((connection, "in"), [])
        return [(delay, raw)] * copies + [(paused, held) for held in released]

    # -- outbound ----------------------------------------------------------------------------

    def outgoing(self, connection: Port, frames: list[bytes], send: Send) -> None:
        """Send ``frames`` on ``connection`` through the drill, each frame meeting its fate."""
        now_frames: list[bytes] = []
        for frame in frames:
            fate, copies = self._draw(connection, "out")
            if fate == "disconnect":
                return
            if fate == "drop":
                continue
            if fate == "reorder":
                self._held.setdefault((connection, "out"), []).extend([frame] * copies)
                continue
            if fate == "delay":
                self._later(self._delay(), connection, [frame] * copies, send)
                continue
            now_frames += [frame] * copies
            now_frames.extend(self._held.pop((connection, "out"), []))  # type: ignore[arg-type]
        if now_frames:
            wait = self._paused_until - self.clock()
            if wait > 0:
                self._later(wait, connection, now_frames, send)
            else:
                send(connection, now_frames)

    def forget(self, connection: Port) -> None:
        """The connection is gone: what was held back for it is lost with it."""
        self._held.pop((connection, "in"), None)
        self._held.pop((connection, "out"), None)

    def cancel(self) -> None:
        """The relay stops: messages still held back are never sent."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def summary(self) -> str:
        counted = ", ".join(f"{name} {self.counts[name]}" for name in FAULTS)
        return f"chaos drill ({self.spec}): {self.counts['messages']} messages; faults: {counted}"

    # -- the draws ---------------------------------------------------------------------------

    def _draw(self, connection: Port, direction: str) -> tuple[str | None, int]:
        """One message's fate and how many copies of it go on, from one draw per fault in a
        fixed order (so a seed replays). A lost message is not repeated; a repeated one may
        also be delayed or held back, its copies together."""
        spec, rng = self.spec, self._rng
        self.counts["messages"] += 1
        draws = [rng.random() for _ in FAULTS]
        fate: str | None = None
        if draws[5] < spec.pause:
            self._paused_until = max(self._paused_until, self.clock() + spec.pause_for)
            self._note("pause", connection, direction)
        if draws[4] < spec.disconnect:
            fate = "disconnect"
            connection.abort()
        elif draws[0] < spec.drop:
            fate = "drop"
        elif draws[3] < spec.reorder:
            fate = "reorder"
        elif draws[2] < spec.delay:
            fate = "delay"
        if fate is not None:
            self._note(fate, connection, direction)
        copies = 1
        if fate not in ("disconnect", "drop") and draws[1] < spec.dup:
            copies = 2
            self._note("dup", connection, direction)
        return fate, copies

    def _note(self, fate: str, connection: Port, direction: str) -> None:
        self.counts[fate] += 1
        log.info("chaos: %s, %s, connection %s", fate, direction, connection.id)

    def _delay(self) -> float:
        low, high = self.spec.delay_range
        return self._rng.uniform(low, high)

    def _later(self, delay: float, connection: Port, frames: list[bytes], send: Send) -> None:
        def fire() -> None:
            self._timers.discard(timer)
            wait = self._paused_until - self.clock()
            if wait > 0:
                self._later(wait, connection, frames, send)
            else:
                send(connection, frames)

        timer = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(timer)
