"""Exports on disk: files people edited are kept, the record links every format's ADRs, and
commits the repository does not hold are named as made elsewhere.

Each test records a real session journal, exports it into a real git repository made in its
own directory, changes files as people and adr-tools do, and exports again.
"""

import json
from pathlib import Path

import pytest

from pairup.adr import marker
from pairup.adr.export import Where, export
from pairup.adr.render import render_json
from pairup.adr.write import (
    EDITED,
    EDITED_LEGACY,
    JSON_NOT_OURS,
    NOT_TEXT,
    RECORD_NOT_OURS,
    Written,
)
from pairup.journal import JournalInfo, load
from pairup.session import events as ev
from tests.export_kit import Clock, adr_tools, commit_file, make_repo, record_session

SESSION = "s-files"
ANN = ev.Participant(id="ann", name="Ann")
BOB = ev.Participant(id="bob", name="Bob")
ELSEWHERE_SHA = "fedcba9876543210fedcba9876543210fedcba98"
ELSEWHERE = "(made in another clone; not in this repository)"


def session_events(clock: Clock, local_sha: str) -> list[ev.Event]:
    """Two decisions and two commits: one in the exporting repository, one in a partner's."""
    return [
        clock(ev.SessionOpened, 0, title="Files"),
        clock(ev.ParticipantJoined, 0, participant=ANN),
        clock(ev.ParticipantJoined, 1, actor="bob", participant=BOB),
        clock(ev.TurnStarted, 2, turn=1),
        clock(ev.DecisionRecorded, 10, decision_id="dec-one-0001", title="Use SQLite"),
        clock(ev.DecisionRecorded, 20, decision_id="dec-two-0002", title="Rotate often"),
        clock(
            ev.CommitRecorded,
            30,
            sha=local_sha,
            summary="Add the store",
            author=ev.Person(name="Ann"),
        ),
        clock(
            ev.CommitRecorded,
            40,
            actor="bob",
            sha=ELSEWHERE_SHA,
            summary="Add the timer",
            author=ev.Person(name="Bob"),
        ),
    ]


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        repository = make_repo(tmp_path / "repo")
        self.repo = Path(repository.workdir)
        self.local_sha = commit_file(repository, "store.py", "pass\n", "Add the store")
        self.clock = Clock()
        self.data = tmp_path / "data"
        self.info = record_session(self.data, SESSION, session_events(self.clock, self.local_sha))
        self.home = tmp_path

    def export(self, fmt: str, *, record: bool = True, force: bool = False, **where: object):
        return export(
            self.info, fmt, Where(repo=self.repo, **where), record=record, now=0.0, force=force
        )

    def more(self, *events: ev.Event) -> JournalInfo:
        self.info = record_session(self.data, SESSION, events, more=True)
        return self.info


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def by_name(written: list[Written]) -> dict[str, Written]:
    return {item.path.name: item for item in written}


def record_of(setup: Setup) -> Path:
    return setup.repo / ".pairup/sessions/2026-11-26-s-files.md"


# ADRs people edit


def test_an_adr_edited_by_hand_is_kept_and_force_saves_it_before_replacing_it(setup):
    first = by_name(setup.export("adr", record=False))
    path = first["0001-use-sqlite.md"].path
    pairups = path.read_text()
    accepted = pairups.replace("\nProposed\n", "\nAccepted\n")
    path.write_text(accepted)
    again = by_name(setup.export("adr", record=False))
    assert again["0001-use-sqlite.md"] == Written(path, "kept", EDITED)
    assert again["0002-rotate-often.md"].action == "unchanged"
    assert path.read_text() == accepted
    forced = by_name(setup.export("adr", record=False, force=True))
    saved = path.with_name(".0001-use-sqlite.md.orig")
    assert forced["0001-use-sqlite.md"] == Written(
        path, "replaced", f"{EDITED}; that version is saved as {saved.name}", saved
    )
    assert forced["0002-rotate-often.md"].action == "unchanged"
    assert saved.read_text() == accepted
    assert path.read_text() == pairups


def test_forcing_again_never_overwrites_an_earlier_saved_version(setup):
    path = by_name(setup.export("adr", record=False))["0001-use-sqlite.md"].path
    saved = []
    for edit in ("first edit", "second edit", "second edit"):
        path.write_text(path.read_text().replace("## Context", f"{edit}\n\n## Context"))
        written = by_name(setup.export("adr", record=False, force=True))["0001-use-sqlite.md"]
        assert written.action == "replaced"
        saved.append(written.saved)
    assert [p.name for p in saved] == [
        ".0001-use-sqlite.md.orig",
        ".0001-use-sqlite.md.2.orig",
        ".0001-use-sqlite.md.2.orig",
    ]
    assert "first edit" in saved[0].read_text()
    assert "second edit" in saved[1].read_text()


def test_an_adr_superseded_with_adr_tools_is_kept_and_adr_tools_ignores_the_saved_copy(setup):
    setup.export("adr", record=False)
    adr_tools(setup.repo, setup.home, "new", "-s", "1", "Use Postgres")
    folder = setup.repo / "doc/adr"
    superseded = (folder / "0001-use-sqlite.md").read_text()
    assert "Superseded by [3. Use Postgres](0003-use-postgres.md)" in superseded
    again = by_name(setup.export("adr", record=False))
    assert again["0001-use-sqlite.md"].action == "kept"
    assert (folder / "0001-use-sqlite.md").read_text() == superseded
    assert (folder / "0003-use-postgres.md").exists()
    setup.export("adr", record=False, force=True)
    assert (folder / ".0001-use-sqlite.md.orig").read_text() == superseded
    listed = adr_tools(setup.repo, setup.home, "list").split()
    assert listed == [
        "doc/adr/0001-use-sqlite.md",
        "doc/adr/0002-rotate-often.md",
        "doc/adr/0003-use-postgres.md",
    ]
    setup.more(setup.clock(ev.DecisionRecorded, 50, decision_id="dec-three-003", title="Third"))
    assert by_name(setup.export("adr", record=False))["0004-third.md"].action == "created"


def test_an_adr_written_before_digests_is_updated_only_if_pairup_wrote_it_as_it_is(setup):
    written = by_name(setup.export("adr", record=False))
    ours, edited = written["0001-use-sqlite.md"].path, written["0002-rotate-often.md"].path
    for path in (ours, edited):
        found = marker.read(path.read_text())
        assert found is not None
        legacy = f"<!-- pairup: session={SESSION} decision={found.marker.decision_id} -->\n"
        path.write_text(found.content + legacy)
    edited.write_text(edited.read_text().replace("Proposed", "Accepted"))
    again = by_name(setup.export("adr", record=False))
    assert again[ours.name].action == "updated"
    found = marker.read(ours.read_text())
    assert found is not None
    assert found.untouched
    assert again[edited.name] == Written(edited, "kept", EDITED_LEGACY)


def test_a_checkout_with_crlf_line_ends_is_not_an_edit(setup):
    path = by_name(setup.export("adr", record=False))["0001-use-sqlite.md"].path
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert by_name(setup.export("adr", record=False))[path.name].action == "unchanged"
    path.write_bytes(path.read_bytes().replace(b"Proposed", b"Accepted"))
    assert by_name(setup.export("adr", record=False))[path.name].action == "kept"


def test_a_marker_that_is_not_the_last_line_claims_nothing(setup):
    folder = setup.repo / "doc/adr"
    folder.mkdir(parents=True)
    mine = folder / "0001-use-sqlite.md"
    hand = (
        "# 1. Use SQLite\n\n"
        f"<!-- pairup: session={SESSION} decision=dec-one-0001 -->\n\n"
        "Written by hand, below a copied marker.\n"
    )
    mine.write_text(hand)
    written = by_name(setup.export("adr", record=False))
    assert mine.read_text() == hand
    assert written["0002-use-sqlite.md"].action == "created"
    assert written["0003-rotate-often.md"].action == "created"


# The session record and the JSON log


def test_an_edited_record_is_kept_and_force_saves_it(setup):
    setup.export("markdown")
    path = record_of(setup)
    noted = path.read_text().replace("## Lessons learned", "Our own note.\n\n## Lessons learned")
    path.write_text(noted)
    assert setup.export("markdown")[0] == Written(path, "kept", EDITED)
    forced, _ = setup.export("markdown", force=True)
    assert forced.action == "replaced"
    assert forced.saved == path.with_name(f".{path.name}.orig")
    assert forced.saved.read_text() == noted
    assert "Our own note." not in path.read_text()


def test_a_record_without_a_marker_is_not_pairups(setup):
    path = record_of(setup)
    path.parent.mkdir(parents=True)
    path.write_text("# Notes of our own\n")
    assert setup.export("markdown")[0] == Written(path, "kept", RECORD_NOT_OURS)
    path.write_bytes(b"\xff\xfe not text")
    assert setup.export("markdown")[0] == Written(path, "kept", NOT_TEXT)
    forced, _ = setup.export("markdown", force=True)
    assert forced.saved is not None
    assert forced.saved.read_bytes() == b"\xff\xfe not text"


def test_the_json_log_replaces_an_earlier_export_of_it_and_nothing_else(setup):
    (first,) = setup.export("json")
    assert first.action == "created"
    setup.more(setup.clock(ev.LessonNoted, 60, text="Export often."))
    (later,) = setup.export("json")
    assert later.action == "updated"
    assert json.loads(later.path.read_text())["events"][-1]["text"] == "Export often."
    later.path.write_text(later.path.read_text().replace("Export often.", "Export rarely."))
    assert setup.export("json") == [Written(later.path, "kept", JSON_NOT_OURS)]
    (forced,) = setup.export("json", force=True)
    assert forced.action == "replaced"
    assert forced.saved is not None
    assert "Export rarely." in forced.saved.read_text()
    assert "Export often." in later.path.read_text()


def test_a_json_export_of_a_longer_log_than_this_one_is_kept(setup):
    """A partner's export holds events this machine's journal has not (yet)."""
    (first,) = setup.export("json")
    events = load(setup.info.path).events
    partners = [*events, setup.clock(ev.LessonNoted, 60, actor="bob", text="Not here yet.")]
    first.path.write_text(render_json(partners))
    assert setup.export("json") == [Written(first.path, "kept", JSON_NOT_OURS)]


# The record links every ADR of the session


def test_the_record_links_the_adrs_of_every_format_whatever_was_exported_last(setup):
    setup.export("adr", record=False)
    setup.export("madr", record=False)
    out = setup.repo / "elsewhere/adrs"
    setup.export("log4brains", record=False, out=out)
    setup.export("markdown", out=None)
    text = record_of(setup).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| 1 | Use SQLite |"))
    assert "not exported" not in row
    assert "(../../doc/adr/0001-use-sqlite.md)" in row
    assert "(../../docs/decisions/0001-use-sqlite.md)" in row
    assert "elsewhere" not in row
    from_out, log = setup.export("markdown", out=out)
    assert log.path == out / "2026-11-26-s-files.json"
    row = next(line for line in from_out.path.read_text().splitlines() if line.startswith("| 1 |"))
    assert "(20261126-use-sqlite.md)" in row
    assert "(../../doc/adr/0001-use-sqlite.md)" in row


def test_the_record_finds_adrs_in_the_configured_folder(setup):
    setup.export("madr", record=False, adr_dir="architecture")
    setup.export("markdown", adr_dir="architecture")
    text = record_of(setup).read_text()
    assert "[../../architecture/0001-use-sqlite.md](../../architecture/0001-use-sqlite.md)" in text


def test_an_adr_export_links_the_other_formats_too(setup):
    setup.export("madr", record=False)
    setup.export("adr")
    row = next(line for line in record_of(setup).read_text().splitlines() if "Rotate" in line)
    assert row == (
        "| 2 | Rotate often | proposed | "
        "[../../doc/adr/0002-rotate-often.md](../../doc/adr/0002-rotate-often.md), "
        "[../../docs/decisions/0002-rotate-often.md](../../docs/decisions/0002-rotate-often.md) |"
    )


# Commits of another clone


def test_commits_the_repository_lacks_are_named_as_made_elsewhere(setup):
    setup.export("adr")
    adr = (setup.repo / "doc/adr/0001-use-sqlite.md").read_text()
    assert f"- `{setup.local_sha[:7]}` Add the store\n" in adr
    assert f"- `{ELSEWHERE_SHA[:7]}` Add the timer {ELSEWHERE}\n" in adr
    record = record_of(setup).read_text()
    assert f"| `{setup.local_sha[:7]}` | Add the store | Ann | none |" in record
    assert f"| `{ELSEWHERE_SHA[:7]}` | Add the timer {ELSEWHERE} | Bob | none |" in record


def test_outside_any_repository_no_commit_is_named_as_made_elsewhere(setup, tmp_path):
    out = tmp_path / "outside"
    setup.export("adr", record=False, out=out)
    assert ELSEWHERE not in (out / "0001-use-sqlite.md").read_text()


def test_a_sha256_commit_in_a_sha1_repository_is_made_elsewhere(setup):
    sha256 = "ab" * 32
    setup.more(
        setup.clock(
            ev.CommitRecorded,
            50,
            sha=sha256,
            summary="From a SHA-256 clone",
            author=ev.Person(name="Bob"),
        )
    )
    setup.export("adr", record=False)
    adr = (setup.repo / "doc/adr/0001-use-sqlite.md").read_text()
    assert f"- `{sha256[:7]}` From a SHA-256 clone {ELSEWHERE}\n" in adr


def test_the_json_log_goes_beside_the_session_record_and_leaves_out_handover_parts(setup):
    setup.more(
        setup.clock(
            ev.HandoverPart, 50, handover="hand-0001", index=0, count=1, data="QUJD" * 1000
        ),
        setup.clock(
            ev.HandoverOffered,
            51,
            turn=2,
            handover="hand-0001",
            snapshot="a" * 40,
            head="b" * 40,
            parts=1,
            size=3000,
            digest="c" * 64,
        ),
    )
    for fmt in ("adr", "madr", "log4brains", "markdown"):
        written = by_name(setup.export(fmt))
        log = written["2026-11-26-s-files.json"]
        assert log.path == record_of(setup).with_suffix(".json")
        assert log.action in ("created", "unchanged")
    kinds = [event["kind"] for event in json.loads(log.path.read_text())["events"]]
    assert "handover.part" not in kinds
    assert "handover.offered" in kinds
    assert "QUJD" not in log.path.read_text()
    assert "2026-11-26-s-files.json" not in by_name(setup.export("adr", record=False))


def test_a_json_log_written_with_the_handover_parts_is_still_pairups(setup):
    """Logs exported before the parts were left out are replaced, not kept as a person's."""
    setup.more(
        setup.clock(ev.HandoverPart, 50, handover="hand-0001", index=0, count=1, data="QUJD")
    )
    events = load(setup.info.path).events
    path = record_of(setup).with_suffix(".json")
    path.parent.mkdir(parents=True)
    path.write_text(render_json(events, with_parts=True))
    (log,) = setup.export("json")
    assert log == Written(path, "updated")
    assert "handover.part" not in path.read_text()
