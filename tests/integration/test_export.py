"""Export of a real recorded session: two headless participants through a real relay decide,
amend, learn and commit in a repository; then ``pairup export`` writes every format.

Outputs are compared with golden files once the parts that differ from run to run (the session
id, dates, times, commit hashes) are replaced by placeholders. adr-tools reads the ADRs.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .test_git_commits import ann_env, git, new_repo, pairup, wait_for_live
from .test_headless import guest, host, is_event, participants

GOLDEN = Path(__file__).parent.parent / "golden" / "recorded"
UPDATE = os.environ.get("PAIRUP_UPDATE_GOLDEN") == "1"
DECISIONS = [
    {
        "cmd": "decide",
        "title": "Keep the session log in SQLite",
        "context": "The relay must not lose an acknowledged event.",
        "decision": "One SQLite database in WAL mode, fsynced per batch.",
        "consequences": "One more file to back up.",
    },
    {"cmd": "decide", "title": "Rotate every 15 min — breaks: every 4 turns!"},
    {"cmd": "decide", "title": "Décider en équipe, 一緒に"},
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A repository in which a whole session was held, and Ann's environment."""
    tmp_path = tmp_path_factory.mktemp("recorded")
    env = ann_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    bob_repo = tmp_path / "bob-repo"
    bob_repo.mkdir()
    with participants(tmp_path) as launch:
        ann, link = host(launch, cwd=repo)
        bob = guest(launch, link, cwd=bob_repo)
        wait_for_live(repo, "Bob")
        for decision in DECISIONS:
            ann.send(decision)
            ann.expect(is_event("decision.recorded", title=decision["title"]), "the decision")
        ann.send({"cmd": "amend", "number": 2, "status": "accepted"})
        ann.expect(is_event("decision.amended"), "the amendment")
        bob.send({"cmd": "lesson", "text": "Say the plan out loud before typing."})
        ann.expect(is_event("lesson.noted"), "the lesson")
        (repo / "relay.py").write_text("print('relay')\n")
        git(repo, "add", "relay.py", env=env)
        made = pairup(repo, env, "commit", "-m", "Add the relay")
        assert made.returncode == 0, made.stderr
        ann.expect(is_event("commit.recorded"), "the commit")
        ann.send({"cmd": "end"})
        ann.rest(timeout=15)
        bob.rest(timeout=15)
    return repo, env


def normalise(text: str, session: str) -> str:
    """Placeholders for what changes from one recording to the next."""
    text = text.replace(session, "SESSION")
    text = re.sub(r"decision=[A-Za-z0-9_-]+ ", "decision=DECISION ", text)
    text = re.sub(r" digest=[0-9a-f]{16} -->", " digest=DIGEST -->", text)
    text = re.sub(r"\b[0-9a-f]{40}\b", "SHA", text)
    text = re.sub(r"\b[0-9a-f]{7}\b", "SHA7", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "DATE", text)
    text = re.sub(r"\b\d{8}-", "YYYYMMDD-", text)
    return re.sub(r"\b\d{2}:\d{2}\b", "HH:MM", text)


def compare(name: str, text: str) -> None:
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with PAIRUP_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def fresh_copy(recorded: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    repo, _ = recorded
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, symlinks=True)
    return copy


def session_of(env: dict[str, str]) -> str:
    (journal,) = (Path(env["PAIRUP_DATA_DIR"]) / "sessions").glob("*.jsonl")
    return journal.stem


def export(repo: Path, env: dict[str, str], *args: str) -> list[str]:
    """``pairup export`` of the recorded session, named, since copies of the repository are
    not where it was held."""
    done = pairup(repo, env, "export", session_of(env), "--repo", str(repo), *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("fmt", "folder"), [("adr", "doc/adr"), ("madr", "docs/decisions"), ("log4brains", "docs/adr")]
)
def test_each_adr_format_matches_its_golden_files_and_exporting_twice_changes_nothing(
    recorded: tuple[Path, dict[str, str]], tmp_path: Path, fmt: str, folder: str
) -> None:
    _, env = recorded
    repo = fresh_copy(recorded, tmp_path)
    first = export(repo, env, "--format", fmt)
    # Three ADRs, the session record and its JSON log beside it.
    assert sum(line.strip().startswith("created") for line in first) == 5, first
    adrs = sorted((repo / folder).glob("*.md"))
    assert len(adrs) == 3
    for number, path in enumerate(adrs, start=1):
        name = re.sub(r"^\d{8}-", "YYYYMMDD-", path.name)
        compare(f"{fmt}/{name}", normalise(path.read_text(encoding="utf-8"), session_of(env)))
        if fmt == "adr":
            assert path.name.startswith(f"{number:04d}-")
    records = list((repo / ".pairup" / "sessions").glob("*.md"))
    assert len(records) == 1
    compare(f"{fmt}/record.md", normalise(records[0].read_text(encoding="utf-8"), session_of(env)))
    before = {path: path.read_text() for path in (repo / folder).glob("*.md")}
    again = export(repo, env, "--format", fmt)
    assert all(line.strip().startswith("unchanged") for line in again), again
    assert {path: path.read_text() for path in (repo / folder).glob("*.md")} == before
    if fmt == "madr":
        for path in adrs:
            front = path.read_text().split("---\n")[1]
            matter = yaml.safe_load(front)
            assert set(matter) == {"status", "date", "decision-makers", "consulted"}
            assert matter["decision-makers"] == ["Ann"]
            assert matter["consulted"] == ["Bob"]


def test_markdown_and_json(recorded: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = recorded
    repo = fresh_copy(recorded, tmp_path)
    export(repo, env, "--format", "markdown")
    export(repo, env, "--format", "json")
    folder = repo / ".pairup" / "sessions"
    (record,) = folder.glob("*.md")
    assert "## Lessons learned" in record.read_text()
    assert "Say the plan out loud before typing." in record.read_text()
    (log,) = folder.glob("*.json")
    kinds = [event["kind"] for event in json.loads(log.read_text())["events"]]
    # The host joins first, then sets the rules: the log's first key is the host's.
    assert kinds[:2] == ["participant.joined", "session.opened"]
    assert kinds[-1] == "session.ended"
    assert kinds.count("decision.recorded") == 3
    assert "commit.recorded" in kinds


@pytest.mark.parametrize("adr_dir_file", [True, False])
def test_adr_tools_lists_the_exported_records(
    recorded: tuple[Path, dict[str, str]], tmp_path: Path, adr_dir_file: bool
) -> None:
    adr = shutil.which("adr")
    if adr is None:
        if os.environ.get("CI"):
            pytest.fail("adr-tools is missing; bash .ci/run installs it")
        pytest.skip("adr-tools is not installed")
    _, env = recorded
    repo = fresh_copy(recorded, tmp_path)
    folder = "architecture/decisions" if adr_dir_file else "doc/adr"
    if adr_dir_file:
        (repo / ".adr-dir").write_text(f"{folder}\n")
        subprocess.run([adr, "init", folder], cwd=repo, env=env, check=True, capture_output=True)
    export(repo, env, "--format", "adr")
    listed = subprocess.run(
        [adr, "list"], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    exported = sorted(path for path in listed if "record-architecture" not in path)
    assert len(exported) == 3
    assert all(Path(path).parent == Path(folder) for path in exported)
    toc = subprocess.run(
        [adr, "generate", "toc"], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "Keep the session log in SQLite" in toc
    assert "Décider en équipe, 一緒に" in toc


def test_a_session_without_decisions_still_writes_its_record(tmp_path: Path) -> None:
    env = ann_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    with participants(tmp_path) as launch:
        ann, _ = host(launch, cwd=repo)
        ann.expect(is_event("participant.joined"), "Ann in the session")
        ann.send({"cmd": "end"})
        ann.rest(timeout=15)
    done = pairup(repo, env, "export")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, lines
    (record,) = (repo / ".pairup" / "sessions").glob("*.md")
    assert record.with_suffix(".json").is_file()
    assert "## Lessons learned" in record.read_text()


def accepted_by_hand(
    recorded: tuple[Path, dict[str, str]], tmp_path: Path
) -> tuple[Path, Path, str, str]:
    """A repository with the session exported as adr-tools drafts, the first of which a person
    then accepted by hand: the repository, that file, pairup's text and theirs."""
    _, env = recorded
    repo = fresh_copy(recorded, tmp_path)
    export(repo, env, "--format", "adr", "--no-record")
    path = repo / "doc/adr/0001-keep-the-session-log-in-sqlite.md"
    pairups = path.read_text(encoding="utf-8")
    accepted = pairups.replace("\nProposed\n", "\nAccepted\n")
    path.write_text(accepted, encoding="utf-8")
    return repo, path, pairups, accepted


def test_an_adr_accepted_by_hand_survives_pairup_export_and_the_record_links_every_format(
    recorded: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = recorded
    repo, path, _, accepted = accepted_by_hand(recorded, tmp_path)
    again = export(repo, env, "--format", "adr", "--no-record")
    assert any(line.split()[:2] == ["kept", str(path.relative_to(repo))] for line in again), again
    assert path.read_text(encoding="utf-8") == accepted
    export(repo, env, "--format", "madr", "--no-record")
    export(repo, env, "--format", "markdown")
    (record,) = (repo / ".pairup" / "sessions").glob("*.md")
    rows = [line for line in record.read_text().splitlines() if line.startswith("| 1 |")]
    assert len(rows) == 1
    assert "(../../doc/adr/0001-keep-the-session-log-in-sqlite.md)" in rows[0]
    assert "(../../docs/decisions/0001-keep-the-session-log-in-sqlite.md)" in rows[0]


def test_export_force_writes_pairups_version_and_keeps_the_persons_beside_it(
    recorded: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = recorded
    repo, path, pairups, theirs = accepted_by_hand(recorded, tmp_path)
    said = export(repo, env, "--format", "adr", "--no-record")
    assert "pairup export --force writes its version" in said[-1]
    forced = export(repo, env, "--format", "adr", "--no-record", "--force")
    assert any(line.split()[:2] == ["replaced", str(path.relative_to(repo))] for line in forced)
    assert path.read_text(encoding="utf-8") == pairups
    assert (path.parent / f".{path.name}.orig").read_text(encoding="utf-8") == theirs
