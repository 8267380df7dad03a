"""A repository's history read from real places: journals written by pairup.journal, session
logs and ADRs written by the real export, commits in a real git repository (its identity in its
own config), and git's own blame and log.

The helpers here (a session's events, a journal held in a repository, a repository with
commits in folders) are the other history tests' too.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from pairup.adr.export import Where, export
from pairup.history import gather as gathering
from pairup.history import git as history_git
from pairup.history import log
from pairup.history.adrs import adr_folders, find_adr_files
from pairup.history.gather import CACHE_FILE, gather
from pairup.history.git import FILES_CACHE, GitProblem, blame, files_touched
from pairup.history.stats import compute
from pairup.history.why import explain, render, to_json
from pairup.journal import Journal, JournalInfo, journal_path, read_info
from pairup.session import events as ev
from tests.export_kit import T0, Clock, make_repo

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob", email="bob@example.test")
CAROL = ev.Participant(id="carol", name="Carol", email="carol@example.test")


def person(who: ev.Participant) -> ev.Person:
    return ev.Person(name=who.name, email=who.email)


def session_events(
    shas: list[str],
    *,
    start: float = 0.0,
    host: ev.Participant = ANN,
    guest: ev.Participant = BOB,
    first_title: str = "Keep the session log in SQLite",
) -> list[ev.Event]:
    """Two people pair for 30 minutes: a decision, a commit, a second decision, a commit; the
    first decision is accepted and agreed with, the second objected to; a lesson. The commits
    are ``shas[0]`` and ``shas[1]``."""
    clock = Clock()
    a, b = host.id, guest.id
    return [
        clock(ev.ParticipantJoined, start, actor=a, participant=host),
        clock(ev.SessionOpened, start + 1, actor=a, settings=ev.SessionSettings(turn_seconds=600)),
        clock(ev.ParticipantJoined, start + 60, actor=b, participant=guest),
        clock(ev.TurnStarted, start + 61, actor=a, turn=1),
        clock(
            ev.DecisionRecorded, start + 120, actor=a, decision_id="dec-one-0001", title=first_title
        ),
        clock(ev.DecisionOpinion, start + 130, actor=b, decision_id="dec-one-0001", stance="agree"),
        clock(
            ev.CommitRecorded,
            start + 300,
            actor=a,
            sha=shas[0],
            summary="Add the relay",
            author=person(host),
            co_authors=(person(guest),),
        ),
        clock(
            ev.DecisionRecorded,
            start + 400,
            actor=b,
            decision_id="dec-two-00002",
            title="Rotate every ten minutes",
        ),
        clock(
            ev.DecisionOpinion, start + 410, actor=a, decision_id="dec-two-00002", stance="object"
        ),
        clock(ev.RolesRotated, start + 661, actor=a, turn=1),
        clock(
            ev.CommitRecorded,
            start + 700,
            actor=b,
            sha=shas[1],
            summary="Store events",
            author=person(guest),
            co_authors=(person(host),),
        ),
        clock(
            ev.DecisionAmended, start + 800, actor=a, decision_id="dec-one-0001", status="accepted"
        ),
        clock(ev.LessonNoted, start + 900, actor=b, text="Say the plan out loud."),
        clock(ev.SessionEnded, start + 1800, actor=a),
    ]


def held(
    data_dir: Path, session_id: str, events: list[ev.Event], repository: Path | str
) -> JournalInfo:
    """The journal of a session held in ``repository``, as pairup start writes one."""
    with Journal.create(
        data_dir, session_id, created_at=T0, meta={"repository": str(repository)}
    ) as journal:
        journal.append_many(events)
    return read_info(journal_path(data_dir, session_id))


def commit(repo: pygit2.Repository, files: dict[str, str], message: str, at: int = 0) -> str:
    """Commit ``files`` (path: text) on the current branch; the new commit's sha."""
    workdir = Path(repo.workdir)
    for name, text in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text, encoding="utf-8")
        repo.index.add(name)
    repo.index.write()
    tree = repo.index.write_tree()
    signature = pygit2.Signature("Ann", "ann@example.test", int(T0) + at, 0)
    return str(repo.create_commit("HEAD", signature, signature, message, tree, [repo.head.target]))


class World:
    """A repository with four commits, and a data directory."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "repo"
        self.repository = make_repo(self.root)
        self.repo = self.root.resolve()
        self.data = tmp_path / "data"
        self.before = commit(self.repository, {"src/relay.py": "one\ntwo\nthree\n"}, "Begin", 10)
        self.first = commit(
            self.repository, {"src/relay.py": "one\nTWO\nthree\n", "docs/a.md": "a\n"}, "Relay", 20
        )
        self.second = commit(self.repository, {"src/store.py": "store\n"}, "Store", 30)
        self.outside = commit(self.repository, {"tests/t.py": "t\n"}, "Outside any session", 40)

    def export(self, info: JournalInfo, fmt: str) -> None:
        export(info, fmt, Where(repo=self.repo), record=fmt != "json", now=T0 + 4000)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture(autouse=True)
def git_reads_no_config_of_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The git the history runs sees the repository's own config and nothing else."""
    for key in [key for key in os.environ if key.startswith("GIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def test_a_line_leads_to_its_session_and_the_decisions_before_its_commit(world: World) -> None:
    info = held(world.data, "s-here", session_events([world.first, world.second]), world.repo)
    world.export(info, "adr")
    found = gather(world.data, world.repo, ".pairup/sessions")

    (reason,) = explain(blame(world.repo, "src/relay.py", 2), found.sessions)

    assert reason.blamed.sha == world.first
    assert reason.sitting is not None
    assert reason.sitting.session_id == "s-here"
    assert [d.title for d in reason.decisions] == ["Keep the session log in SQLite"]
    adrs = find_adr_files(adr_folders(world.repo))
    text = render("src/relay.py", 2, [reason], adrs, world.repo)
    assert "made in session s-here" in text
    assert "credited: Ann <ann@example.test>, Bob <bob@example.test>" in text
    assert "#1 Keep the session log in SQLite [accepted]" in text
    assert "agreed: Bob" in text
    assert "ADR doc/adr/0001-keep-the-session-log-in-sqlite.md (Accepted)" in text
    assert "Rotate every ten minutes" not in text
    answer = to_json("src/relay.py", 2, [reason], adrs, world.repo)
    (decision,) = answer["commits"][0]["session"]["decisions"]
    assert decision["adrs"] == [
        {"path": "doc/adr/0001-keep-the-session-log-in-sqlite.md", "status": "Accepted"}
    ]


def test_the_second_commit_follows_both_decisions(world: World) -> None:
    held(world.data, "s-here", session_events([world.first, world.second]), world.repo)
    found = gather(world.data, world.repo, ".pairup/sessions")

    (reason,) = explain(blame(world.repo, "src/store.py", 1), found.sessions)

    assert [d.number for d in reason.decisions] == [1, 2]
    assert reason.decisions[1].objected == ("ann",)


def test_a_line_no_session_recorded_names_its_commit(world: World) -> None:
    held(world.data, "s-here", session_events([world.first, world.second]), world.repo)
    found = gather(world.data, world.repo, ".pairup/sessions")

    reasons = explain(blame(world.repo, "tests/t.py", 1), found.sessions)

    assert reasons[0].sitting is None
    text = render("tests/t.py", 1, reasons, {}, world.repo)
    assert f"no pairup session held here recorded commit {world.outside[:12]}" in text


def test_a_file_without_a_line_lists_every_commit_behind_it_newest_first(world: World) -> None:
    held(world.data, "s-here", session_events([world.first, world.second]), world.repo)
    (world.root / "src" / "relay.py").write_text("one\nTWO\nthree\nfour\n")
    found = gather(world.data, world.repo, ".pairup/sessions")

    reasons = explain(blame(world.repo, "src/relay.py"), found.sessions)

    assert [r.blamed.committed for r in reasons] == [False, True, True]
    assert [r.blamed.sha for r in reasons[1:]] == [world.first, world.before]
    assert reasons[1].blamed.lines == [2]
    assert sorted(reasons[2].blamed.lines) == [1, 3]
    text = render("src/relay.py", None, reasons, {}, world.repo)
    assert "src/relay.py (lines 4): not committed yet" in text
    assert "src/relay.py (lines 1, 3): commit" in text


def test_a_session_held_in_another_repository_explains_nothing_here(
    world: World, tmp_path: Path
) -> None:
    other = make_repo(tmp_path / "else")
    shas = [commit(other, {"x.txt": f"{n}\n"}, f"Else {n}", n) for n in (1, 2)]
    held(world.data, "s-there", session_events(shas), tmp_path / "else")

    found = gather(world.data, world.repo, ".pairup/sessions")

    assert [s.here for s in found.sessions] == [False]
    (reason,) = explain(blame(world.repo, "src/relay.py", 2), found.sessions)
    assert reason.sitting is None
    assert log.select(found.sessions, log.Filters(), {}, world.repo) == []


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.parametrize("how", ["moved", "cloned", "worktree"])
def test_a_journal_counts_where_its_commits_are(world: World, tmp_path: Path, how: str) -> None:
    """A journal names the path its repository had; the same repository moved (``cp -a``),
    cloned again or opened in a linked worktree holds the session's commits, so the session
    is held there too."""
    held(world.data, "s-here", session_events([world.first, world.second]), world.repo)
    elsewhere = tmp_path / "elsewhere"
    if how == "moved":
        shutil.copytree(world.root, elsewhere, symlinks=True)
    elif how == "cloned":
        git(tmp_path, "clone", "-q", str(world.repo), str(elsewhere))
    else:
        git(world.repo, "worktree", "add", "-q", str(elsewhere))

    found = gather(world.data, elsewhere.resolve(), ".pairup/sessions")

    assert [s.here for s in found.sessions] == [True]
    (reason,) = explain(blame(elsewhere.resolve(), "src/relay.py", 2), found.sessions)
    assert reason.sitting is not None
    assert reason.sitting.session_id == "s-here"


def test_commits_are_asked_about_in_one_walk_kept_until_a_ref_moves(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every journal of another path is settled by one walk of the history (``git rev-list
    --all``); its answer is kept in the git directory with the refs' tips, so the next run
    with the same tips only lists them, and a new commit (a moved tip) walks again."""
    other = make_repo(tmp_path / "other")
    theirs = [commit(other, {"x.txt": f"{n}\n"}, f"Other {n}", n) for n in (1, 2)]
    held(world.data, "s-moved", session_events([world.first, world.second]), "/was/here")
    held(world.data, "s-other-1", session_events(theirs), tmp_path / "other")
    held(world.data, "s-other-2", session_events(theirs[::-1]), tmp_path / "other")
    runs: list[list[str]] = []
    original = history_git._git

    def counted(repo: Path, args: list[str], stdin: str | None = None) -> object:
        runs.append(args)
        return original(repo, args, stdin)

    monkeypatch.setattr(history_git, "_git", counted)
    tips, walk = ["rev-list", "--all", "--no-walk"], ["rev-list", "--all"]

    first = gather(world.data, world.repo, ".pairup/sessions")
    assert {s.session_id: s.here for s in first.sessions} == {
        "s-moved": True,
        "s-other-1": False,
        "s-other-2": False,
    }
    assert runs == [tips, walk]
    assert gather(world.data, world.repo, ".pairup/sessions") == first
    assert runs == [tips, walk, tips], "the same tips: no walk"
    commit(world.repository, {"later.txt": "l\n"}, "Later", 50)
    assert gather(world.data, world.repo, ".pairup/sessions") == first
    assert runs == [tips, walk, tips, tips, walk], "a tip moved: walked again"


def held_here(world: World) -> list[bool]:
    """Whether each session gathered for ``world``'s repository was held there."""
    return [s.here for s in gather(world.data, world.repo, ".pairup/sessions").sessions]


def in_store(repo: Path, sha: str) -> bool:
    """Whether git's object store has ``sha``, reachable or not."""
    done = subprocess.run(
        ["git", "cat-file", "-e", sha], cwd=repo, capture_output=True, check=False
    )
    return done.returncode == 0


def test_a_commit_reset_away_no_longer_holds_its_session_here(world: World) -> None:
    """The journal names another path, so only its commits can say the session was held here;
    once the branch is reset past them they say nothing, whether git has dropped them yet or
    not, and what the run before kept does not outlive the reset."""
    held(world.data, "s-moved", session_events([world.outside, world.outside]), "/was/here")
    assert held_here(world) == [True]

    git(world.repo, "reset", "-q", "--hard", "HEAD~1")

    assert in_store(world.repo, world.outside), "rebased or reset away, not yet collected"
    assert held_here(world) == [False]
    git(world.repo, "reflog", "expire", "--expire=now", "--all")
    git(world.repo, "gc", "-q", "--prune=now")
    assert not in_store(world.repo, world.outside)
    assert held_here(world) == [False]


def test_a_fetched_commit_holds_its_session_only_while_a_ref_reaches_it(
    world: World, tmp_path: Path
) -> None:
    """Another project's commits fetched into the object store do not make its sessions this
    repository's; a remote branch that reaches them does, until it is deleted."""
    other = make_repo(tmp_path / "other")
    theirs = [commit(other, {"x.txt": f"{n}\n"}, f"Other {n}", n) for n in (1, 2)]
    held(world.data, "s-other", session_events(theirs), tmp_path / "other")

    git(world.repo, "fetch", "-q", str(tmp_path / "other"), "main")
    assert in_store(world.repo, theirs[1]), "in FETCH_HEAD only"
    assert held_here(world) == [False]
    git(world.repo, "fetch", "-q", str(tmp_path / "other"), "main:refs/remotes/other/main")
    assert held_here(world) == [True]
    git(world.repo, "update-ref", "-d", "refs/remotes/other/main")
    assert in_store(world.repo, theirs[1])
    assert held_here(world) == [False]


def test_a_log_committed_to_the_repository_counts_as_held_here(
    world: World, tmp_path: Path
) -> None:
    """A partner's session reaches the repository as the JSON log they exported."""
    partner_data = tmp_path / "partner-data"
    info = held(partner_data, "s-partner", session_events([world.first, world.second]), "/x")
    world.export(info, "json")

    found = gather(world.data, world.repo, ".pairup/sessions")

    (sitting,) = found.sessions
    assert (sitting.session_id, sitting.here) == ("s-partner", True)
    assert explain(blame(world.repo, "src/relay.py", 2), found.sessions)[0].sitting == sitting


def test_a_session_in_a_journal_and_a_log_counts_once_keeping_the_longer(
    world: World, tmp_path: Path
) -> None:
    events = session_events([world.first, world.second])
    info = held(world.data, "s-both", events[:-3], tmp_path / "elsewhere")
    world.export(info, "json")
    with Journal.open(info.path) as journal:
        journal.append_many(events[-3:])

    found = gather(world.data, world.repo, ".pairup/sessions")

    (sitting,) = found.sessions
    assert sitting.events == len(events)
    assert sitting.ended is not None
    assert sitting.here, "the log's copy is in this repository"


def test_a_journal_that_stopped_early_does_not_beat_the_whole_log(
    world: World, tmp_path: Path
) -> None:
    """Ann left after the first commit: her journal has 7 events and 20 parts of a handover
    package, which an exported log never holds; Bob stayed and exported all 14 events. The
    log is the copy that says more, so the second commit is the session's."""
    events = session_events([world.first, world.second])
    parts = [
        ev.HandoverPart(
            id=f"part-{index:06d}",
            at=T0 + 250,
            actor=BOB.id,
            handover="handover-0001",
            index=index,
            count=20,
            data="QUJD" * 100,
        )
        for index in range(20)
    ]
    held(world.data, "s-both", [*events[:4], *parts, *events[4:7]], world.repo)
    bobs = held(tmp_path / "bob-data", "s-both", events, "/bob/clone")
    world.export(bobs, "json")

    found = gather(world.data, world.repo, ".pairup/sessions")

    (sitting,) = found.sessions
    assert sitting.ended is not None
    assert [c.sha for c in sitting.commits] == [world.first, world.second]
    (reason,) = explain(blame(world.repo, "src/store.py", 1), found.sessions)
    assert reason.sitting is not None, "the commit Bob's log recorded"
    assert [d.number for d in reason.decisions] == [1, 2]


def test_a_second_gather_reads_no_file_it_read_before(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = session_events([world.first, world.second])
    info = held(world.data, "s-one", events[:-1], world.repo)
    held(world.data, "s-two", session_events([world.first, world.second]), world.repo)
    first = gather(world.data, world.repo, ".pairup/sessions")
    read: list[Path] = []
    original = gathering._read

    def counted(source: gathering.Source) -> object:
        read.append(source.path)
        return original(source)

    monkeypatch.setattr(gathering, "_read", counted)

    assert gather(world.data, world.repo, ".pairup/sessions") == first
    assert read == []
    with Journal.open(info.path) as journal:
        journal.append(events[-1])
    again = gather(world.data, world.repo, ".pairup/sessions")
    assert read == [info.path], "only the journal that grew is read again"
    assert {s.session_id: s.ended is not None for s in again.sessions} == {
        "s-one": True,
        "s-two": True,
    }


def test_a_log_rewritten_to_the_same_size_with_its_time_put_back_is_read_again(
    world: World, tmp_path: Path
) -> None:
    """A checkout, ``rsync -t`` or ``touch -r`` can give a rewritten file its old size and
    modification time; its inode or change time (which nothing sets back) still tell."""
    info = held(tmp_path / "partner", "s-log", session_events([world.first, world.second]), "/x")
    world.export(info, "json")
    (log_file,) = (world.repo / ".pairup" / "sessions").glob("*.json")
    before = os.stat(log_file)
    (sitting,) = gather(world.data, world.repo, ".pairup/sessions").sessions
    assert sitting.decisions[1].title == "Rotate every ten minutes"

    text = log_file.read_text(encoding="utf-8")
    log_file.write_text(text.replace("every ten minutes", "every six minutes"), encoding="utf-8")
    os.utime(log_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(log_file)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    (sitting,) = gather(world.data, world.repo, ".pairup/sessions").sessions
    assert sitting.decisions[1].title == "Rotate every six minutes"


def test_a_warm_gather_loads_neither_the_journal_reader_nor_the_session_core(
    world: World, tmp_path: Path
) -> None:
    """What the cache saves beyond reading: a fresh process answering from it imports none of
    the code that reads and folds sessions (``pairup why`` loads the session core anyway,
    through the ADR code it finds ADRs with, and still no journal reader)."""
    held(world.data, "s-moved", session_events([world.first, world.second]), "/was/here")
    held(world.data, "s-here", session_events([world.first, world.second]), world.repo)
    gather(world.data, world.repo, ".pairup/sessions")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pairup.history.gather import gather\n"
        "found = gather(Path(sys.argv[1]), Path(sys.argv[2]), '.pairup/sessions')\n"
        "assert [s.here for s in found.sessions] == [True, True], found\n"
        "gathered = sorted(m for m in ('pairup.journal', 'pairup.session') if m in sys.modules)\n"
        "import pairup.history.adrs\n"
        "print(gathered, 'pairup.journal' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(world.data), str(world.repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[] False"


def test_a_damaged_cache_or_another_versions_is_read_past(world: World) -> None:
    held(world.data, "s-one", session_events([world.first, world.second]), world.repo)
    fresh = gather(world.data, world.repo, ".pairup/sessions")
    cache = world.data / CACHE_FILE
    document = json.loads(cache.read_text())
    document["pairup"] = "0.0.0-other"
    cache.write_text(json.dumps(document))
    assert gather(world.data, world.repo, ".pairup/sessions") == fresh
    cache.write_text('{"format": 1, "pairup": "x", "files": {"a": 1}')
    assert gather(world.data, world.repo, ".pairup/sessions") == fresh
    key = str(journal_path(world.data, "s-one"))
    document = json.loads(cache.read_text())
    document["files"][key]["sitting"]["decisions"] = "not a list"
    cache.write_text(json.dumps(document))
    assert gather(world.data, world.repo, ".pairup/sessions") == fresh


def test_a_damaged_file_is_one_problem_and_hides_nothing_else(world: World) -> None:
    held(world.data, "s-one", session_events([world.first, world.second]), world.repo)
    records = world.repo / ".pairup" / "sessions"
    records.mkdir(parents=True)
    (records / "2026-11-26-s-bad.json").write_text('{"events": [{"kind": "no.such"}]}')
    (records / "2026-11-26-s-worse.json").write_text("not json")
    (world.data / "sessions" / "s-torn.jsonl").write_text('{"pairup_journal": 1}\n')

    found = gather(world.data, world.repo, ".pairup/sessions")

    assert [s.session_id for s in found.sessions] == ["s-one"]
    assert len(found.problems) == 3
    assert any(
        "2026-11-26-s-bad.json: event 1 is not one pairup knows" in p for p in found.problems
    )


def test_blame_errors_say_what_is_wrong(world: World) -> None:
    (world.root / "new.py").write_text("x\n")
    with pytest.raises(GitProblem, match=r"new\.py is not tracked by git"):
        blame(world.repo, "new.py", 1)


def test_files_touched_reads_each_commit_once_and_keeps_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = {
        "odd/with space.txt": "s\n",
        "odd/new\nline.txt": "n\n",
        f"{world.first}": "a sha as a name\n",
        "odd/:colon.txt": "c\n",
        "odd/決定.txt": "k\n",
    }
    tricky = commit(world.repository, odd, "Odd names", 50)
    unknown = "0123456789abcdef0123456789abcdef01234567"
    git_dir = world.repo / ".git"

    touched = files_touched(world.repo, git_dir, [world.first, tricky, unknown, world.second])

    assert touched == {
        world.first: ["docs/a.md", "src/relay.py"],
        tricky: sorted(odd),
        world.second: ["src/store.py"],
    }
    assert (git_dir / FILES_CACHE).exists()

    def no_git(*args: object, **kwargs: object) -> object:
        raise AssertionError("git was asked again")

    monkeypatch.setattr(history_git, "_git", no_git)
    assert files_touched(world.repo, git_dir, [world.first, tricky]) == {
        world.first: touched[world.first],
        tricky: touched[tricky],
    }


def test_a_merge_touches_nothing_of_its_own(world: World) -> None:
    base = world.repository.head.target
    side = commit(world.repository, {"side.txt": "s\n"}, "Side", 60)
    world.repository.reset(base, pygit2.enums.ResetMode.HARD)
    main = commit(world.repository, {"main.txt": "m\n"}, "Main", 70)
    (world.root / "side.txt").write_text("s\n")
    world.repository.index.add("side.txt")
    tree = world.repository.index.write_tree()
    signature = pygit2.Signature("Ann", "ann@example.test", int(T0) + 80, 0)
    parents = [pygit2.Oid(hex=main), pygit2.Oid(hex=side)]
    merge = str(
        world.repository.create_commit("HEAD", signature, signature, "Merge", tree, parents)
    )

    assert files_touched(world.repo, None, [merge, side]) == {merge: [], side: ["side.txt"]}


def test_log_lists_sessions_newest_first_with_filters(world: World, tmp_path: Path) -> None:
    held(world.data, "s-old", session_events([world.first, world.second]), world.repo)
    later = session_events([world.second, world.outside], start=8 * 86_400, guest=CAROL)
    held(world.data, "s-new", later, world.repo)
    found = gather(world.data, world.repo, ".pairup/sessions")

    every = log.select(found.sessions, log.Filters(), {}, world.repo)
    assert [s.session_id for s in every] == ["s-new", "s-old"]
    carol = log.select(
        found.sessions, log.Filters(participant="CAROL@example.test"), {}, world.repo
    )
    assert [s.session_id for s in carol] == ["s-new"]
    since = log.select(found.sessions, log.Filters(since=T0 + 86_400), {}, world.repo)
    assert [s.session_id for s in since] == ["s-new"]
    assert log.select(found.sessions, log.Filters(status="rejected"), {}, world.repo) == []

    files = files_touched(world.repo, None, [world.first, world.second, world.outside])
    adrs = find_adr_files(adr_folders(world.repo))
    text = log.render(every[1:], log.Filters(), files, adrs, world.repo)
    lines = text.splitlines()
    assert lines[1] == "  #1 Keep the session log in SQLite [accepted]"
    assert lines[3:5] == [
        f"     commit {world.first[:12]} Add the relay",
        "       docs/a.md, src/relay.py",
    ]
    assert lines[5] == "  #2 Rotate every ten minutes [proposed]"
    document = log.to_json(every[1:], log.Filters(), files, adrs, world.repo)
    first, second = document["sessions"][0]["decisions"]
    assert first["commits_after"] == [world.first, world.second]
    assert second["commits_after"] == [world.second]
    accepted = log.to_json(every, log.Filters(status="accepted"), files, adrs, world.repo)
    assert [len(s["decisions"]) for s in accepted["sessions"]] == [1, 1]


def test_stats_count_knowledge_spread_from_the_files_commits_touched(world: World) -> None:
    held(world.data, "s-old", session_events([world.first, world.second]), world.repo)
    later = session_events([world.second, world.outside], start=8 * 86_400, guest=CAROL)
    held(world.data, "s-new", later, world.repo)
    found = gather(world.data, world.repo, ".pairup/sessions")
    shas = [c.sha for s in found.sessions for c in s.commits]

    stats = compute(found.sessions, files_touched(world.repo, None, shas))

    spread = {item.directory: item.people for item in stats.spread}
    ann, bob, carol = (f"email:{who}@example.test" for who in ("ann", "bob", "carol"))
    assert spread == {"docs": (ann, bob), "tests": (ann, carol), "src": (ann, bob, carol)}
    assert [(p.first, p.second, p.sessions) for p in stats.pairs] == [
        (ann, bob, 1),
        (ann, carol, 1),
    ]
