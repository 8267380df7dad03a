"""No text a participant types can hurt anyone's screen.

Real headless partners, each named with a string of the hostile corpus, join a real relay and
send every other string through every field they can fill in (title, context, decision,
consequences, amendments, lessons, the commits they make); each in turn drives, so their name
is in the rotation toast. The host's real app, under Pilot, must stay up and show each string
as the literal text it is: markup as brackets, escape sequences with ESC visible, bidi overrides
by name. The same journal, replayed into a new app at another size, shows the same.
"""

import asyncio
import re
from functools import partial
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import Input, TextArea

from pairup import protocol as wire
from pairup.journal import journal_path
from pairup.link.client import Link
from pairup.participant import ParticipantRuntime
from pairup.printable import printable, printable_block
from pairup.session import events as ev
from pairup.tui.app import PairupApp
from pairup.tui.screens import DecisionForm, EndScreen
from pairup.tui.session import Participation, Preferences
from pairup.tui.widgets import BROKEN, DecisionLog, Roster, fit
from tests.hostile import CORPUS, NAMEABLE
from tests.hostile import fit as cut
from tests.integration.relaykit import PinnedJitter

from .tuikit import Partner, command, hosted, on_screen, opened, session_of, until

ANN = ev.Participant(id="ann", name="Ann [b]host[/b] \u202eeve", email="ann@example.com")
TERMINAL_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""What must never reach the terminal from anyone's text (line feeds are the screen's own)."""


def host_app(tmp_path: Path, join: wire.JoinLink, *, create: bool = True) -> PairupApp:
    link = Link(
        join, ANN.id, tmp_path / "ann", create=create, rng=PinnedJitter(), ping_interval=0.5
    )
    prefs = Preferences(bell=False, retro=False, journal=journal_path(link.data_dir, join.session))
    settings = ev.SessionSettings(turn_seconds=600) if create else None
    return opened(Participation(ParticipantRuntime(link, ANN, settings=settings), prefs=prefs))


def visible_prefix(text: str, cells: int) -> str:
    """What the screen shows of ``text`` in ``cells`` columns, without the ellipsis."""
    return fit(printable(text), cells).removesuffix("…").rstrip()


def test_the_hostile_corpus_from_real_partners_stays_text_on_the_hosts_screen(
    tmp_path: Path,
) -> None:
    entries = list(CORPUS.items())

    async def scenario() -> None:
        async with hosted(tmp_path, partial(host_app, tmp_path), (80, 24)) as (ann, pilot, join):
            view = lambda: session_of(ann).link.view  # noqa: E731
            await pilot.press("s")
            for index, (key, text) in enumerate(entries):
                name = cut(text, 200) if key in NAMEABLE else f"Partner {index}"
                partner = Partner(tmp_path, join, index, name)
                await until(
                    lambda p=partner: (m := view().member(p.me.id)) is not None and m.present,
                    f"partner {key} to join",
                )
                title = cut(text, 200).strip() or key
                partner.send(command("decide", title=title, context=text, decision=text[:20_000]))
                await until(
                    lambda t=title: any(d.title == t for d in view().decisions.values()),
                    f"decision {key}",
                )
                decision_id = next(d.id for d in view().decisions.values() if d.title == title)
                partner.send(
                    command("amend", decision_id=decision_id, status="accepted", consequences=text)
                )
                partner.send(command("lesson", text=cut(text, 2000)))
                await until(lambda i=index: len(view().lessons) == i + 1, f"lesson {key}")
                # The partner drives: their name is in the rotation toast on Ann's screen.
                await pilot.press("n")
                await until(lambda p=partner: view().driver == p.me.id, f"{key} to drive")
                await pilot.pause()
                toasts = " ".join(n.message for n in ann._notifications)
                assert printable(name)[:40] in toasts
                assert not TERMINAL_CONTROL.search(on_screen(ann))
                await partner.leave()
                await until(lambda p=partner: not view().member(p.me.id).present, "leaving")

            # Commits whose messages are the corpus, from one more partner's clone.
            committer = Partner(tmp_path, join, len(entries), "Committer")
            await until(
                lambda: (m := view().member(committer.me.id)) is not None and m.present,
                "the committer to join",
            )
            for key, text in entries:
                committer.commit(text if text.strip() else key)
            await until(lambda: len(view().commits) == len(entries), "every commit")
            await committer.leave()

            assert ann.is_running
            screen = on_screen(ann)
            assert not TERMINAL_CONTROL.search(screen)
            assert "you are Ann [b]host[/b] ⟨RLO⟩eve" in ann.sub_title
            assert "Ann [b]host[" in screen

            # Every title in the table as its visible text, and every name in the roster.
            table = ann.main.query_one(DecisionLog)
            titles = [table.get_row_at(row)[1].plain for row in range(table.row_count)]
            expected = [printable(cut(t, 200).strip() or k) + " ✎" for k, t in entries]
            assert titles == expected
            roster = ann.main.query_one(Roster).content.plain
            for key, text in entries:
                if key in NAMEABLE:
                    assert visible_prefix(cut(text, 200), 6) in roster, key

            # Each decision opens in the amend form with its text visible and unchanged;
            # saving it untouched sends nothing.
            table.focus()
            for row, (key, text) in enumerate(entries):
                table.move_cursor(row=row)
                await pilot.press("enter")
                form = ann.screen
                assert isinstance(form, DecisionForm), key
                assert form.query_one("#title", Input).value == printable(
                    cut(text, 200).strip() or key
                )
                shown = form.query_one("#context", TextArea).text
                assert shown == printable_block(text)
                assert not TERMINAL_CONTROL.search(on_screen(ann))
                await pilot.press("ctrl+s")
                assert ann.screen is ann.main
            await pilot.pause()
            assert all(len(d.amendments) == 1 for d in view().decisions.values())

            await pilot.press("x", "y")
            await until(lambda: isinstance(ann.screen, EndScreen), "the end screen")
            summary = ann.screen.summary.plain
            for key, text in entries:
                assert printable(cut(text, 200).strip() or key) in summary, key
                lesson = printable_block(cut(text, 2000)).replace("\n", "\n    ")
                assert lesson in summary, key
            # Each commit's subject as git recorded it (git itself stops a message at NUL).
            for record in view().commits.values():
                assert f" {printable(record.summary)}: Partner" in summary, record.summary
            assert not TERMINAL_CONTROL.search(on_screen(ann))
            # The end screen comes up as the end is asked for; the replay below reads the end
            # the relay stamped.
            await until(lambda: session_of(ann).link.confirmed.phase == "ended", "the end stored")
            summary = session_of(ann).summary().plain

        # The relay is gone: the same journal, replayed into a new app at another size.
        again = host_app(tmp_path, join, create=False)
        async with again.run_test(size=(120, 36), notifications=True) as pilot:
            await until(lambda: isinstance(again.screen, EndScreen), "the replayed end screen")
            assert again.screen.summary.plain == summary
            assert not TERMINAL_CONTROL.search(on_screen(again))
            await pilot.press("escape")
            assert again.is_running

    asyncio.run(scenario())


def test_a_panel_that_fails_to_draw_says_so_and_the_rest_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure injected into the drawing library, for the roster alone: the roster says it
    could not be drawn, the log has the traceback, and everything else goes on."""
    render = Widget._render

    def failing(widget: Widget) -> object:
        if isinstance(widget, Roster):
            raise RuntimeError("the drawing library failed")
        return render(widget)

    async def scenario() -> None:
        async with hosted(tmp_path, partial(host_app, tmp_path), (80, 24)) as (ann, pilot, join):
            monkeypatch.setattr(Widget, "_render", failing)
            partner = Partner(tmp_path, join, 1, "Bob")
            await until(lambda: BROKEN[:20] in on_screen(ann), "the roster to say so")
            partner.send(command("decide", title="Still drawn"))
            await until(lambda: "Still drawn" in on_screen(ann), "the decisions to carry on")
            assert ann.is_running
            monkeypatch.undo()
            await pilot.press("s")
            await until(lambda: "Bob" in on_screen(ann), "the roster to draw again")
            await partner.leave()

    with caplog.at_level("ERROR", logger="pairup.tui"):
        asyncio.run(scenario())
    failures = [r for r in caplog.records if r.getMessage() == "drawing Roster failed"]
    assert failures
    assert all(r.exc_info is not None for r in failures)
