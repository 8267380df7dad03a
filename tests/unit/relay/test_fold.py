"""How relays of a fleet number a shared log as they read it (ADR 35): every relay, and every
resume from any commit, must give the same events the same offsets."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from pairup.relay.core.events import StoredEvent, Taken, fold

SESSION = "fold-session"

taken = st.builds(
    Taken,
    id=st.sampled_from([f"event-{n:03d}" for n in range(12)]),
    sender=st.sampled_from(["ann", "bob"]),
    at=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    body=st.text(max_size=5),
)
streams = st.lists(st.lists(taken, max_size=6), max_size=12)


def read(commits: list[list[Taken]]) -> tuple[list[StoredEvent], list[tuple[int, float]]]:
    """The whole log as a relay reads it, and where each commit starts (offset, time before)."""
    ids: dict[str, int] = {}
    log: list[StoredEvent] = []
    marks = []
    seq, at = 0, 0.0
    for commit in commits:
        marks.append((seq + 1, at))
        events = fold(SESSION, commit, last_seq=seq, last_at=at, first_seen=ids.get)
        for event in events:
            ids[event.id] = event.seq
        log += events
        if events:
            seq, at = events[-1].seq, events[-1].at
    return log, marks


@given(streams)
def test_offsets_follow_on_each_event_once_in_the_order_first_committed(commits):
    log, _ = read(commits)
    assert [event.seq for event in log] == list(range(1, len(log) + 1))
    first_seen = list(dict.fromkeys(event.id for commit in commits for event in commit))
    assert [event.id for event in log] == first_seen
    assert all(a.at <= b.at for a, b in itertools.pairwise(log))


@given(streams, st.data())
def test_reading_again_from_any_commit_gives_the_same_events_and_frames(commits, data):
    log, marks = read(commits)
    if not commits:
        return
    start = data.draw(st.integers(0, len(commits) - 1))
    ids = {event.id: event.seq for event in log}
    seq, at = marks[start]
    seq -= 1
    again: list[StoredEvent] = []
    for commit in commits[start:]:
        events = fold(SESSION, commit, last_seq=seq, last_at=at, first_seen=ids.get)
        again += events
        if events:
            seq, at = events[-1].seq, events[-1].at
    assert again == [event for event in log if event.seq >= marks[start][0]]


def test_a_resend_two_relays_both_committed_counts_once_where_it_came_first():
    one = Taken("event-001", "ann", 5.0, "sealed")
    two = Taken("event-002", "bob", 4.0, "sealed")
    log, _ = read([[one], [two, one]])
    assert [(event.seq, event.id, event.at) for event in log] == [
        (1, "event-001", 5.0),
        (2, "event-002", 5.0),  # A relay's clock behind another's never takes time back.
    ]
