"""Who is here: a partner gone quiet is shown away, skipped, and back when they reconnect.

Ann's real app and Bob, a real headless partner, through a real relay; the session's
``away_after`` is one second so nobody waits. Bob "closes his laptop": his link drops without a
word. Ann's pairup notices, says so in the log, and every rule follows from that log.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

from pairup import protocol as wire
from pairup.session import events as ev
from pairup.session.reduce import take_out_refused
from pairup.tui.app import PairupApp
from pairup.tui.screens import Reorder

from .tuikit import (
    Partner,
    command,
    hosted,
    on_screen,
    participant,
    session_of,
    shown,
    until,
)

QUICK = ev.SessionSettings(turn_seconds=600, away_after_seconds=1)


def ann_hosting(tmp_path: Path) -> Callable[[wire.JoinLink], PairupApp]:
    return lambda join: participant(tmp_path, "Ann", join, settings=QUICK)


def test_a_partner_gone_quiet_is_away_skipped_and_back_on_reconnect(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with hosted(tmp_path, ann_hosting(tmp_path), (100, 30)) as (ann, pilot, join):
            view = lambda: session_of(ann).link.view  # noqa: E731
            bob = Partner(tmp_path, join, 1, "Bob")
            await until(lambda: len(view().here) == 2, "Bob to join")

            # Bob drives; his laptop closes: the countdown pauses and says why.
            await pilot.press("s", "n")
            await until(lambda: view().driver == bob.me.id, "Bob to drive")
            await bob.vanish()
            await until(lambda: view().phase == "paused", "the countdown to pause")
            member = view().member(bob.me.id)
            assert member is not None
            assert member.away is not None
            assert not member.away.by_choice
            assert view().paused_for == bob.me.id
            await until(lambda: "Bob is away" in shown(ann, "#role"), "the reason on screen")
            assert "resumes when Bob is back" in shown(ann, "#detail")
            assert "away" in ann.main.query_one("#roster").content.plain
            assert any("Bob is away" in n.message for n in ann._notifications)
            # Resuming would run his clock while he is gone; handing over works.
            await pilot.press("space")
            await until(
                lambda: any("driver is away" in n.message for n in ann._notifications),
                "the refusal to resume",
            )
            await pilot.press("n")
            await until(lambda: view().driver == "ann", "the turn to pass to Ann")
            await pilot.press("s")
            await until(lambda: view().phase == "running", "Ann's turn to run")
            await pilot.press("n")
            await until(lambda: view().turn == 4, "the next turn")
            assert view().driver == "ann", "someone away is skipped in the rotation"

            # Bob opens his laptop: his pairup reconnects and he is back in the rotation.
            again = Partner(tmp_path, join, 1, "Bob")
            await until(lambda: view().member(bob.me.id).away is None, "Bob to be back")
            assert [m.id for m in view().here] == ["ann", bob.me.id]
            await pilot.press("n")
            await until(lambda: view().driver == bob.me.id, "Bob to drive again")
            await again.leave()

    asyncio.run(scenario())


def test_away_by_choice_back_by_choice_and_taken_out_by_someone_here(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with hosted(tmp_path, ann_hosting(tmp_path), (100, 30)) as (ann, pilot, join):
            view = lambda: session_of(ann).link.view  # noqa: E731
            bob = Partner(tmp_path, join, 1, "Bob")
            cat = Partner(tmp_path, join, 2, "Cat")
            await until(lambda: len(view().here) == 3, "Bob and Cat to join")

            # Ann steps away with w and back with w; Bob says so on his stdin.
            await pilot.press("w")
            await until(lambda: view().member("ann").away is not None, "Ann away")
            await until(
                lambda: "away" in ann.main.query_one("#roster").content.plain,
                "Ann shown away",
            )
            await pilot.press("w")
            await until(lambda: view().member("ann").away is None, "Ann back")
            bob.send(command("away"))
            await until(lambda: view().member(bob.me.id).away is not None, "Bob away")
            bob.send(command("back"))
            await until(lambda: view().member(bob.me.id).away is None, "Bob back")

            # Cat vanishes; Ann takes her out of the rotation from the rotation dialog.
            await cat.vanish()
            await until(lambda: view().member(cat.me.id).away is not None, "Cat away")
            # Not at once: her pairup, were it there, has away_after to say she is back.
            session = session_of(ann)
            await until(
                lambda: (
                    take_out_refused(
                        view(), session.me.id, view().member(cat.me.id), session.link.now()
                    )
                    is None
                ),
                "Cat away long enough to be taken out",
            )
            # Bob and Cat joined at the same moment: either may be second in the rotation.
            order = [m.id for m in view().members if m.present]
            ann_at, cat_at = order.index("ann"), order.index(cat.me.id)
            await pilot.press("o")
            await until(lambda: isinstance(ann.screen, Reorder), "the reorder dialog")
            await pilot.press(*["down"] * ann_at, "t")
            assert isinstance(ann.screen, Reorder), "Ann cannot take herself out"
            await until(
                lambda: "That is you: q leaves the session." in on_screen(ann), "Ann told why"
            )
            await pilot.press(*["down"] * (cat_at - ann_at), "t")
            await until(lambda: not view().member(cat.me.id).present, "Cat taken out")
            assert ann.screen is ann.main

            # The host takes out someone here too: the relay disconnects him.
            order = [m.id for m in view().members if m.present]
            await pilot.press("o")
            await until(lambda: isinstance(ann.screen, Reorder), "the reorder dialog")
            await pilot.press(*["down"] * order.index(bob.me.id), "t")
            await until(lambda: not view().member(bob.me.id).present, "Bob taken out")
            await bob.ended()
            assert "taken out" in bob.headless.link.status.reason

    asyncio.run(scenario())
