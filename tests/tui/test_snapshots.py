"""Snapshots of the screens people look at, with the clock frozen so they are stable.

The app runs for real but offline: its link holds a session folded from a fixed log, reads a
frozen clock and is shown as connected. Update with ``pytest --snapshot-update`` after a
deliberate change of the screen, and look at the new SVGs before committing them.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pairup import protocol as wire
from pairup.link.client import Link, Status
from pairup.participant import ParticipantRuntime
from pairup.session import events as ev
from pairup.session import fold
from pairup.tui.app import PairupApp
from pairup.tui.session import Participation, Preferences

from .tuikit import opened, until

T0 = 1_795_000_000.0
"""A fixed moment: 2026-11-18 11:06:40 UTC."""
RELAY = "ws://192.0.2.10:7000"
"""An address from the documentation range; the snapshots never connect to it."""
SESSION = "Kp3xWq9ZrT2mVb7c"
SECRET = bytes(range(16))
JOURNAL = Path("/home/ann/.local/share/pairup/sessions") / f"{SESSION}.jsonl"

ANN = ev.Participant(id="ann-0001", name="Ann", email="ann@example.com")
BOB = ev.Participant(id="bob-0001", name="Bob", email="bob@example.com")
CAT = ev.Participant(id="cat-0001", name="Cat", email="cat@example.com")


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times of day are shown in local time; the snapshots are taken in UTC."""
    before = time.tzname
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()
    assert time.tzname == before


def log(*extra: ev.Event) -> list[ev.Event]:
    counter = iter(range(1, 1000))

    def stamp(event: ev.Event) -> ev.Event:
        seq = next(counter)
        return ev.sequenced(event, seq, event.at)

    opening: list[ev.Event] = [
        ev.SessionOpened(
            id="event-open",
            actor="ann-0001",
            at=T0,
            settings=ev.SessionSettings(turn_seconds=15 * 60),
        ),
        ev.ParticipantJoined(id="event-ann", actor="ann-0001", at=T0 + 1, participant=ANN),
        ev.ParticipantJoined(id="event-bob", actor="bob-0001", at=T0 + 20, participant=BOB),
        ev.ParticipantJoined(id="event-cat", actor="cat-0001", at=T0 + 30, participant=CAT),
        ev.TurnStarted(id="event-start", actor="ann-0001", at=T0 + 60, turn=1),
        ev.DecisionRecorded(
            id="event-d1",
            actor="bob-0001",
            at=T0 + 300,
            decision_id="decision-1",
            title="Keep the session log in SQLite",
            context="The relay must not lose an acknowledged event.",
            decision="One SQLite database in WAL mode, fsynced per batch.",
            consequences="One more file to back up.",
        ),
        ev.DecisionRecorded(
            id="event-d2",
            actor="ann-0001",
            at=T0 + 420,
            decision_id="decision-2",
            title="Rotate every fifteen minutes",
            status="accepted",
        ),
        ev.DecisionAmended(
            id="event-a2",
            actor="ann-0001",
            at=T0 + 480,
            decision_id="decision-2",
            title=("Rotate every fifteen minutes, break every four turns"),
        ),
        ev.CommitRecorded(
            id="event-c1",
            actor="ann-0001",
            at=T0 + 500,
            sha="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            summary="Store the session log in SQLite",
            author=ev.Person(name="Ann", email="ann@example.com"),
            co_authors=(ev.Person(name="Bob", email="bob@example.com"),),
        ),
    ]
    return [stamp(event) for event in [*opening, *extra]]


def offline_app(events: list[ev.Event], now: float, me: ev.Participant = ANN) -> PairupApp:
    join = wire.JoinLink(RELAY, SESSION, SECRET)
    link = Link(join, me.id, Path("/nonexistent"), clock=lambda: now)
    link.confirmed = link.core.confirmed = fold(events)
    link.core.status = Status("connected", RELAY)
    link.core.online = frozenset({"ann-0001", "bob-0001"})
    prefs = Preferences(bell=False, retro=False, journal=JOURNAL)
    return opened(Participation(ParticipantRuntime(link, me), prefs=prefs, connect=False))


async def session_open(pilot: Pilot[str | None]) -> None:
    """Wait until the app has opened its session and drawn it."""
    await until(lambda: pilot.app.session is not None, "the session to open")
    await pilot.pause()


def test_main_screen(snap_compare) -> None:
    app = offline_app(log(), now=T0 + 60 + 9 * 60 + 25)
    assert snap_compare(app, terminal_size=(80, 24), run_before=session_open)


def test_main_screen_large(snap_compare) -> None:
    app = offline_app(log(), now=T0 + 60 + 9 * 60 + 25)
    assert snap_compare(app, terminal_size=(120, 36), run_before=session_open)


def test_decision_form(snap_compare) -> None:
    app = offline_app(log(), now=T0 + 700)

    async def type_a_decision(pilot: Pilot[str | None]) -> None:
        await session_open(pilot)
        await pilot.press("d", *"Pair on the relay tests")
        await pilot.press("tab", *"Nobody but Ann knows the relay.")

    assert snap_compare(app, terminal_size=(80, 24), run_before=type_a_decision)


def test_end_screen(snap_compare) -> None:
    ended = log(
        ev.RolesRotated(id="event-rot", actor="bob-0001", at=T0 + 960, turn=1),
        ev.LessonNoted(
            id="event-l1", actor="cat-0001", at=T0 + 1000, text="Short turns keep us awake."
        ),
        ev.SessionEnded(id="event-end", actor="ann-0001", at=T0 + 1500),
    )
    app = offline_app(ended, now=T0 + 1500)
    assert snap_compare(app, terminal_size=(80, 24), run_before=session_open)
