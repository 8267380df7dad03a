"""The real screen over a journal that holds impossible times.

A journal written before the relay's clock was the only clock, or replayed from elsewhere, may
hold any finite time. Here the host's journal of the session holds 1e13 (the year 318857), -1
and 1e300 when its pairup opens it, as ``pairup start --resume`` does, on a real relay on
loopback: the screen must show those times as unknown, never a countdown of billions of hours,
and the end screen's summary and export must work.
"""

import asyncio
import re
from pathlib import Path

from textual.widgets import Digits

from pairup import protocol as wire
from pairup.journal import Journal
from pairup.session import events as ev
from pairup.session import sequenced
from pairup.tui.screens import EndScreen
from pairup.tui.widgets import DecisionLog
from tests.export_kit import make_repo
from tests.integration.relaykit import free_port, new_session, relay_on

from .tuikit import on_screen, participant, until

ABSURD = re.compile(r"\d{4,} h\b|\d{7,}")
"""A thousand hours or more, or seven digits in a row: nothing the screen shows has them."""


def wild_journal(data_dir: Path, session: str) -> None:
    """Ann's journal of ``session``: opened at 1e13, Bob joined at -1, a decision at 1e300,
    Bob away since 1e300, and Ann's turn running since -1."""
    ann = ev.Participant(id="ann", name="Ann", email="ann@example.com")
    bob = ev.Participant(id="bob", name="Bob", email="bob@example.com")
    events = [
        ev.SessionOpened(id="evt-wild-0001", actor="ann", at=1e13, title="Wild clocks"),
        ev.ParticipantJoined(id="evt-wild-0002", actor="ann", at=1e13, participant=ann),
        ev.ParticipantJoined(id="evt-wild-0003", actor="bob", at=-1.0, participant=bob),
        ev.TurnStarted(id="evt-wild-0004", actor="ann", at=-1.0, turn=1),
        ev.DecisionRecorded(
            id="evt-wild-0005",
            actor="ann",
            at=1e300,
            decision_id="dec-wild-1",
            title="Trust the relay's clock",
        ),
        ev.ParticipantAway(
            id="evt-wild-0006", actor="bob", at=1e300, participant_id="bob", since=1e300
        ),
    ]
    stamped = [sequenced(event, seq, event.at) for seq, event in enumerate(events, start=1)]
    with Journal.create(data_dir, session, created_at=1e13) as journal:
        journal.append_many(stamped)


def test_a_journal_of_impossible_times_shows_them_unknown_and_exports(tmp_path: Path) -> None:
    repo = Path(make_repo(tmp_path / "repo").workdir)

    async def scenario() -> None:
        session, secret = new_session()
        async with relay_on(free_port(), tmp_path / "relay") as relay:
            join = wire.JoinLink(relay.url, session, secret)
            wild_journal(tmp_path / "ann", session)
            app = participant(tmp_path, "Ann", join, settings=ev.SessionSettings(), repository=repo)
            async with app.run_test(size=(100, 30), notifications=True) as pilot:
                await until(lambda: app.session is not None, "the session to open")
                log = app.main.query_one(DecisionLog)
                await until(lambda: log.row_count == 1, "the journal's decision on screen")
                assert log.get_row_at(0)[5].plain == "--:--"
                assert app.main.query_one("#clock", Digits).value == "--:--"
                # The roster draws on its own tick, which may come after the decisions'.
                await until(lambda: "away --:--" in on_screen(app), "Bob shown away, unknown since")
                screen = on_screen(app)
                assert not ABSURD.search(screen), screen

                await pilot.press("x", "y")
                await until(lambda: isinstance(app.screen, EndScreen), "the end screen")
                summary = app.screen.summary.plain
                assert "--:-- to --:--, unknown length" in summary
                assert not ABSURD.search(summary), summary
                await pilot.press("e")
                await until(lambda: any((repo / "doc/adr").glob("*.md")), "the ADR written")
                await until(
                    lambda: any((repo / ".pairup/sessions").glob("undated-*.md")),
                    "the session record written, undated",
                )
            assert app.return_code in (None, 0)

    asyncio.run(scenario())
