"""The handover on screen: two real apps on two clones through a real relay. When the driver
hands over, both screens say what moved, the new driver's toast says the code is here, and
their clone is the last driver's; a file name a partner made is shown as text."""

import asyncio
from pathlib import Path

from pairup import protocol as wire
from pairup.config.model import HandoverConfig
from pairup.printable import printable
from pairup.session import events as ev
from tests.integration.relaykit import free_port, new_session, relay_on
from tests.integration.test_handover_link import clones, status

from .tuikit import on_screen, participant, session_of, shown, until

HANDOVER = HandoverConfig(mode="link", max_size="8 MiB", open=(), remote="origin", finish="keep")
MARKUP_NAME = "[@click=app.quit]x[b] \u202eyp.kcatta"


def test_both_screens_show_the_code_moving_and_the_next_driver_gets_it(tmp_path: Path) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])

    async def scenario() -> None:
        session, secret = new_session()
        async with relay_on(free_port(), tmp_path / "relay") as relay:
            join = wire.JoinLink(relay.url, session, secret)
            settings = ev.SessionSettings(turn_seconds=600)
            ann = participant(
                tmp_path, "Ann", join, settings=settings, repository=paths["ann"], handover=HANDOVER
            )
            bob = participant(tmp_path, "Bob", join, repository=paths["bob"], handover=HANDOVER)
            async with ann.run_test(size=(100, 30), notifications=True) as ann_pilot:
                await until(lambda: ann.session is not None, "Ann's session")
                async with bob.run_test(size=(80, 24), notifications=True) as bob_pilot:
                    await until(lambda: bob.session is not None, "Bob's session")
                    ann_link = session_of(ann).link
                    await until(lambda: "bob" in ann_link.view.holding, "Bob says what he holds")
                    await ann_pilot.press("s")
                    await until(lambda: ann_link.view.phase == "running", "the turn runs")
                    (paths["ann"] / "app.py").write_text("print('pairing')\n")
                    (paths["ann"] / f"{MARKUP_NAME}.py").write_text("x = 1\n")
                    await ann_pilot.press("n")
                    await until(lambda: "in place" in shown(bob, "#handover-text"), "Bob's line")
                    await bob_pilot.pause()
                    line = shown(bob, "#handover-text")
                    assert line.startswith("Handover of turn 1, Ann to Bob: 2 files, +2 -1")
                    assert f"last touched {printable(MARKUP_NAME)}.py:1 · in place" in line
                    assert "The code is here: 2 files" in on_screen(bob)
                    assert status(paths["bob"], env) == status(paths["ann"], env)
                    await until(lambda: "in place" in shown(ann, "#handover-text"), "Ann's line")
                    summary = session_of(bob).summary().plain
                    assert "Handovers (1)\n  turn 1, Ann to Bob: 2 files, +2 -1" in summary
                    assert summary.count("in place") == 1

    asyncio.run(scenario())
