"""Reading a fault drill's spec, and the drill's draws: every fault, seeded, counted."""

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup.relay.chaos import FAULTS, Chaos, ChaosSpec, ChaosSpecError, read_presets


def test_the_example_of_the_help_reads_as_it_says():
    spec = ChaosSpec.parse("drop=0.1,dup=0.05,delay=0-100ms,disconnect=0.02,seed=7")
    assert spec == ChaosSpec(
        drop=0.1, dup=0.05, delay=1.0, delay_range=(0.0, 0.1), disconnect=0.02, seed=7
    )
    assert str(spec) == "drop=0.1,dup=0.05,delay=0-100ms,disconnect=0.02,seed=7"


def test_a_share_of_delayed_messages_reorder_and_a_pause_with_its_length():
    spec = ChaosSpec.parse("delay=0.25:10ms-2s, reorder=0.01, pause=0.001:3s")
    assert (spec.delay, spec.delay_range) == (0.25, (0.01, 2.0))
    assert (spec.reorder, spec.pause, spec.pause_for, spec.seed) == (0.01, 0.001, 3.0, 0)
    assert ChaosSpec.parse(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("drop=2", "drop should be a probability from 0 to 1, not '2'"),
        ("drop=lots", "drop should be a probability"),
        ("seed=7", "no fault given"),
        ("", "no fault given"),
        ("flood=0.1", "unknown fault 'flood'"),
        ("drop", "'drop' should be NAME=VALUE"),
        ("drop=0.1,drop=0.2", "drop is given twice"),
        ("delay=100ms", "delay should be a range like 0-100ms"),
        ("delay=100-10ms", "runs backwards"),
        ("delay=0-1h", "duration should look like 100ms or 2s"),
        ("pause=0.1:soon", "pause duration should look like"),
        ("drop=0.1,seed=-1", "seed should be a whole number"),
    ],
)
def test_a_bad_spec_is_one_line_that_says_what_is_wrong(text, says):
    with pytest.raises(ChaosSpecError, match=r"^chaos: ") as raised:
        ChaosSpec.parse(text)
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_shipped_preset_is_a_drill_and_its_name_gives_the_same_one():
    path, presets = read_presets()
    assert path.name == "drills.toml"
    assert {"lossy", "flaky-wifi", "storm"} <= set(presets)
    for name, spec in presets.items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name), name
        assert name not in (*FAULTS, "seed"), f"{name} would read as a fault, never the preset"
        assert ChaosSpec.parse(name) == ChaosSpec.parse(spec)
        assert ChaosSpec.parse(f" {name} ") == ChaosSpec.parse(spec)


def test_every_fault_is_rehearsed_by_some_preset():
    _, presets = read_presets()
    drills = [ChaosSpec.parse(spec) for spec in presets.values()]
    assert all(any(getattr(drill, fault) for drill in drills) for fault in FAULTS)


def test_a_mistyped_preset_is_one_line_that_suggests_one_and_lists_them_all():
    _, presets = read_presets()
    with pytest.raises(ChaosSpecError) as raised:
        ChaosSpec.parse("flakywifi")
    message = str(raised.value)
    assert message.startswith("chaos: no preset named 'flakywifi' (did you mean flaky-wifi?); ")
    assert f"presets: {', '.join(presets)};" in message
    assert "drop=0.1" in message
    assert "\n" not in message


def test_a_preset_file_that_is_missing_or_wrong_is_reported_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("pairup.config.shipped.SHIPPED_DIR", tmp_path)
    with pytest.raises(ChaosSpecError, match=r"^chaos: .*drills\.toml: missing: "):
        ChaosSpec.parse("lossy")
    (tmp_path / "drills.toml").write_text('lossy = "drop=2"\nslow = 3\n')
    with pytest.raises(ChaosSpecError, match=r"^chaos: preset 'slow' in .* should be a spec"):
        ChaosSpec.parse("lossy")
    (tmp_path / "drills.toml").write_text('lossy = "drop=2"\n')
    with pytest.raises(ChaosSpecError, match=r"^chaos: preset 'lossy' in .*: drop should be a"):
        ChaosSpec.parse("lossy")
    (tmp_path / "drills.toml").write_text("lossy = \n")
    with pytest.raises(ChaosSpecError, match=r"^chaos: cannot read the presets in "):
        ChaosSpec.parse("lossy")


def test_a_literal_spec_never_reads_the_presets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("pairup.config.shipped.SHIPPED_DIR", tmp_path)
    assert ChaosSpec.parse("drop=0.1") == ChaosSpec(drop=0.1)


probability = st.floats(0, 1).map(lambda value: round(value, 3))


@given(
    drop=probability,
    dup=probability,
    reorder=probability,
    disconnect=probability,
    seed=st.integers(0, 2**32),
)
def test_a_spec_reads_back_from_its_own_words(drop, dup, reorder, disconnect, seed):
    spec = ChaosSpec(drop=drop, dup=dup, reorder=reorder, disconnect=disconnect, seed=seed)
    if spec.active:
        assert ChaosSpec.parse(str(spec)) == spec


@dataclass(eq=False)
class Connection:
    """What the drill touches of a connection: its id, and a way to cut it."""

    id: int = 1
    aborted: int = 0

    def abort(self) -> None:
        self.aborted += 1


def drive(spec: ChaosSpec, messages: int) -> tuple[list[bytes], Chaos, Connection]:
    """Pass ``messages`` frames through the drill, outbound, and return what was sent."""
    sent: list[bytes] = []

    async def run() -> tuple[Chaos, Connection]:
        chaos, connection = Chaos(spec), Connection()
        for number in range(messages):
            chaos.outgoing(connection, [f"{number}".encode()], lambda _, f: sent.extend(f))
        await asyncio.sleep(spec.delay_range[1] + 0.05)
        return chaos, connection

    chaos, connection = asyncio.run(run())
    return sent, chaos, connection


def test_the_same_seed_draws_the_same_faults_and_another_seed_others():
    spec = ChaosSpec.parse("drop=0.3,dup=0.2,reorder=0.1,seed=11")
    first, _, _ = drive(spec, 300)
    again, _, _ = drive(spec, 300)
    other, _, _ = drive(ChaosSpec.parse("drop=0.3,dup=0.2,reorder=0.1,seed=12"), 300)
    assert first == again
    assert first != other


def test_every_fault_happens_about_as_often_as_asked_and_is_counted():
    spec = ChaosSpec.parse("drop=0.2,dup=0.1,reorder=0.05,disconnect=0.01,seed=5")
    sent, chaos, connection = drive(spec, 5000)
    counts = chaos.counts
    assert counts["messages"] == 5000
    assert 800 < counts["drop"] < 1200
    assert 350 < counts["dup"] < 550
    assert 100 < counts["reorder"] < 300
    assert 25 < counts["disconnect"] < 80
    assert connection.aborted == counts["disconnect"]
    assert f"5000 messages; faults: drop {counts['drop']}, dup {counts['dup']}," in chaos.summary()
    assert len(sent) > len(set(sent))


def test_delayed_frames_arrive_late_some_after_later_ones_and_none_is_lost():
    spec = ChaosSpec.parse("delay=0-50ms,seed=2")
    sent, chaos, _ = drive(spec, 200)
    assert sorted(sent, key=int) == [f"{n}".encode() for n in range(200)]
    assert sent != sorted(sent, key=int)
    assert chaos.counts["delay"] == 200


def test_a_pause_holds_every_message_until_it_is_over():
    spec = ChaosSpec.parse("pause=1:200ms,seed=1")
    sent: list[tuple[float, bytes]] = []

    async def run() -> tuple[float, Chaos]:
        loop = asyncio.get_running_loop()
        chaos, connection = Chaos(spec), Connection()
        started = loop.time()
        for number in range(3):
            chaos.outgoing(
                connection,
                [f"{number}".encode()],
                lambda _, frames: sent.extend((loop.time(), f) for f in frames),
            )
        ((delay, received),) = chaos.incoming(connection, "in")
        assert received == "in"
        assert 0.15 <= delay <= 0.2, "a message that comes in a pause waits for its end"
        await asyncio.sleep(0.25)
        return started, chaos

    started, chaos = asyncio.run(run())
    assert [frame for _, frame in sent] == [b"0", b"1", b"2"]
    assert all(at - started >= 0.19 for at, _ in sent)
    assert chaos.counts["pause"] == 4
