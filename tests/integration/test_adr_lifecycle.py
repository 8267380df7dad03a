"""``pairup adr accept|reject|deprecate|supersede|link`` on exported ADRs, through the real
command line: each format's files change only in their status and link lines, adr-tools reads
every state back (``adr list``, ``adr generate toc``, the supersede edge of ``adr generate
graph``), MADR's front matter stays YAML, a re-export keeps the edited files, and every refusal
is one line, a non-zero exit and no file changed.
"""

import re
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from pairup.adr import edit, lifecycle
from pairup.adr.export import Where, export
from pairup.adr.markdown import inline
from pairup.adr.render import slug
from pairup.journal import JournalInfo
from pairup.session import events as ev
from tests.export_kit import Clock, adr_tools, make_repo, record_session
from tests.hostile import CORPUS, fit

from .test_git_commits import ann_env, pairup
from .test_headless import PAIRUP

SESSION = "s-life"
FOLDERS = {"adr": "doc/adr", "madr": "docs/decisions", "log4brains": "docs/adr"}
TITLES = ["Use SQLite", "Use Postgres", "Rotate often", "Keep a journal"]


def session(titles: list[str], clock: Clock | None = None) -> list[ev.Event]:
    clock = clock or Clock()
    return [
        clock(ev.SessionOpened, 0, title="Life"),
        clock(ev.ParticipantJoined, 0, participant=ev.Participant(id="ann", name="Ann")),
        clock(
            ev.ParticipantJoined, 1, actor="bob", participant=ev.Participant(id="bob", name="Bob")
        ),
        clock(ev.TurnStarted, 2, turn=1),
        *(
            clock(ev.DecisionRecorded, 10 + n, decision_id=f"dec-{n:04d}", title=title)
            for n, title in enumerate(titles, start=1)
        ),
    ]


class Repo:
    """A repository holding a session's decisions exported in one format."""

    def __init__(
        self, tmp_path: Path, fmt: str, titles: list[str] = TITLES, *, superseded: bool = False
    ) -> None:
        self.path = Path(make_repo(tmp_path / "repo").workdir)
        self.env = ann_env(tmp_path)
        self.fmt = fmt
        self.titles = titles
        self.home = tmp_path
        clock = Clock()
        events = session(titles, clock)
        if superseded:
            events.append(clock(ev.DecisionSuperseded, 60, decision_id="dec-0001", by="dec-0002"))
        self.info: JournalInfo = record_session(tmp_path / "data", SESSION, events)
        self.export()
        self.folder = self.path / FOLDERS[fmt]
        self.file_limit: int | None = None

    def export(self) -> dict[str, str]:
        written = export(self.info, self.fmt, Where(repo=self.path), record=False, now=0.0)
        return {item.path.name: item.action for item in written}

    def adrs(self) -> list[Path]:
        return sorted(self.folder.glob("*.md"))

    def file(self, index: int) -> Path:
        """The ADR of the ``index``-th decision (log4brains' names sort by date, then title)."""
        if self.fmt == "log4brains":
            ending = f"-{slug(self.titles[index - 1])}.md"
            return next(path for path in self.adrs() if path.name.endswith(ending))
        return self.adrs()[index - 1]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        if self.file_limit is None:
            return pairup(self.path, self.env, "adr", *args)
        limit = self.file_limit

        def limited() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [str(PAIRUP), "adr", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=limited,
        )

    def ok(self, *args: str) -> list[str]:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return done.stdout.splitlines()

    def refused(self, *args: str) -> str:
        before = {path: path.read_bytes() for path in self.adrs()}
        done = self.run(*args)
        assert done.returncode != 0
        assert done.stdout == ""
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("pairup: ")
        assert {path: path.read_bytes() for path in self.adrs()} == before
        return done.stderr


def reference(repo: Repo, index: int) -> str:
    """How a person names the ``index``-th ADR: its number, or (log4brains' dated files) the
    start of its slug."""
    if repo.fmt != "log4brains":
        return str(index)
    return repo.file(index).name.split("-", 1)[1][:6]


def unchanged_but_status(before: str, after: str) -> list[tuple[str, str]]:
    """The lines that differ, which must be the same lines in number and place."""
    old, new = before.split("\n"), after.split("\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


STATUS_LINES = {
    "adr": "{Word}",
    "madr": "status: {word}",
    "log4brains": "- Status: {word}",
}


@pytest.mark.parametrize("fmt", FOLDERS)
@pytest.mark.parametrize(
    ("command", "word"),
    [("accept", "accepted"), ("reject", "rejected"), ("deprecate", "deprecated")],
)
def test_a_status_command_changes_the_status_line_alone_and_once(tmp_path, fmt, command, word):
    repo = Repo(tmp_path, fmt)
    path = repo.file(1)
    before = path.read_text(encoding="utf-8")
    said = repo.ok(command, reference(repo, 1))
    assert said == [f"{word:>10}  {path.relative_to(repo.path).as_posix()}"]
    after = path.read_text(encoding="utf-8")
    proposed = STATUS_LINES[fmt].format(Word="Proposed", word="proposed")
    expected = STATUS_LINES[fmt].format(Word=word.capitalize(), word=word)
    assert unchanged_but_status(before, after) == [(proposed, expected)]
    again = repo.ok(command, reference(repo, 1))
    assert again == [
        f"{'unchanged':>10}  {path.relative_to(repo.path).as_posix()}  (already {word})"
    ]
    assert path.read_text(encoding="utf-8") == after
    assert repo.export()[path.name] == "kept"
    assert path.read_text(encoding="utf-8") == after


@pytest.mark.parametrize("fmt", FOLDERS)
def test_supersede_links_both_files_and_a_re_export_keeps_them(tmp_path, fmt):
    repo = Repo(tmp_path, fmt)
    old, new = repo.file(1), repo.file(2)
    said = repo.ok("supersede", reference(repo, 1), "--by", reference(repo, 2))
    shown = [path.relative_to(repo.path).as_posix() for path in (old, new)]
    assert said == [
        f"{'superseded':>10}  {shown[0]}  (by {new.name})",
        f"{'linked':>10}  {shown[1]}  (supersedes {old.name})",
    ]
    old_text, new_text = old.read_text(encoding="utf-8"), new.read_text(encoding="utf-8")
    if fmt == "adr":
        assert (
            "\n## Status\n\nSuperseded by [2. Use Postgres](0002-use-postgres.md)\n\n" in old_text
        )
        assert "\nProposed\n\nSupersedes [1. Use SQLite](0001-use-sqlite.md)\n\n" in new_text
    elif fmt == "madr":
        assert yaml.safe_load(old_text.split("---\n")[1])["status"] == "superseded by ADR-0002"
        assert (
            "\n## More Information\n\nSupersedes [ADR-0001: Use SQLite](0001-use-sqlite.md)\n\n"
            in new_text
        )
    else:
        assert f"\n- Status: superseded by [{new.stem}]({new.name})\n" in old_text
        assert f"\n## Links\n\n- Supersedes [{old.stem}]({old.name})\n\n<!-- pairup:" in new_text
    for text in (old_text, new_text):
        assert text.rstrip("\n").rsplit("\n", 1)[-1].startswith("<!-- pairup: session=s-life ")
    again = repo.ok("supersede", reference(repo, 1), "--by", reference(repo, 2))
    assert [line.split()[0] for line in again] == ["unchanged", "unchanged"]
    actions = repo.export()
    assert actions[old.name] == actions[new.name] == "kept"
    assert len(repo.adrs()) == len(TITLES)


def test_adr_tools_reads_every_state_pairup_adr_writes(tmp_path):
    repo = Repo(tmp_path, "adr")
    repo.ok("accept", "1")
    repo.ok("reject", "3")
    repo.ok("deprecate", "4")
    repo.ok("supersede", "1", "--by", "2")
    repo.ok("link", "4", "Amends", "2", "Amended by")
    listed = adr_tools(repo.path, repo.home, "list").split()
    assert listed == [path.relative_to(repo.path).as_posix() for path in repo.adrs()]
    toc = adr_tools(repo.path, repo.home, "generate", "toc")
    for number, title in enumerate(TITLES, start=1):
        path = repo.file(number)
        assert f"* [{number}. {title}]({path.name})" in toc
    graph = adr_tools(repo.path, repo.home, "generate", "graph")
    assert '  _2 -> _1 [label="Supersedes", weight=0]' in graph.splitlines()
    assert '  _4 -> _2 [label="Amends", weight=0]' in graph.splitlines()
    statuses = {number: adr_tools_status(repo.file(number)) for number in range(1, len(TITLES) + 1)}
    assert statuses == {
        1: ["Superseded by [2. Use Postgres](0002-use-postgres.md)"],
        2: [
            "Proposed",
            "Supersedes [1. Use SQLite](0001-use-sqlite.md)",
            "Amended by [4. Keep a journal](0004-keep-a-journal.md)",
        ],
        3: ["Rejected"],
        4: ["Deprecated", "Amends [2. Use Postgres](0002-use-postgres.md)"],
    }


@pytest.mark.parametrize("fmt", FOLDERS)
def test_a_supersede_in_the_session_exports_as_pairup_adr_writes_it(tmp_path, fmt):
    in_session = Repo(tmp_path / "session", fmt, superseded=True)
    afterwards = Repo(tmp_path / "after", fmt)
    afterwards.ok("supersede", reference(afterwards, 1), "--by", reference(afterwards, 2))
    for exported, edited in zip(in_session.adrs(), afterwards.adrs(), strict=True):
        assert exported.name == edited.name
        expected = edited.read_text()
        assert re.sub(r" digest=\w+", "", exported.read_text()) == re.sub(
            r" digest=\w+", "", expected
        )
    assert in_session.export() == dict.fromkeys((p.name for p in in_session.adrs()), "unchanged")
    if fmt == "adr":
        graph = adr_tools(in_session.path, in_session.home, "generate", "graph")
        assert '  _2 -> _1 [label="Supersedes", weight=0]' in graph.splitlines()
        toc = adr_tools(in_session.path, in_session.home, "generate", "toc")
        assert "* [1. Use SQLite](0001-use-sqlite.md)" in toc
    said = in_session.refused(
        "supersede", reference(in_session, 1), "--by", reference(in_session, 3)
    )
    assert "already" in said


def adr_tools_status(path: Path) -> list[str]:
    """The status lines as adr-tools' ``_adr_status`` reads them."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = lines.index("## Status")
    found = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.strip():
            found.append(line)
    return found


def test_an_adr_superseded_with_pairup_reads_as_one_superseded_with_adr_new_s(tmp_path):
    """The same status and links as ``adr new -s``, once adr-tools' own "Accepted" is set."""
    theirs = Repo(tmp_path / "theirs", "adr", TITLES[:1])
    accepted = theirs.file(1).read_text().replace("\nProposed\n", "\nAccepted\n")
    theirs.file(1).write_text(accepted)
    adr_tools(theirs.path, theirs.home, "new", "-s", "1", "Use", "Postgres")
    ours = Repo(tmp_path / "ours", "adr", TITLES[:1])
    adr_tools(ours.path, ours.home, "new", "Use", "Postgres")
    ours.ok("accept", "1")
    ours.ok("supersede", "1", "--by", "2")
    for name in ("0001-use-sqlite.md", "0002-use-postgres.md"):
        assert (ours.folder / name).read_text() == (theirs.folder / name).read_text()


def test_a_persons_status_stays_and_adr_tools_reads_the_new_one_first(tmp_path):
    repo = Repo(tmp_path, "adr")
    debate = ["After a long debate the team went with this,", "see the minutes of 3 May."]
    board = "Accepted by the architecture board on 2024-05-01."
    for number, said in ((1, "\n".join(debate)), (3, board)):
        path = repo.file(number)
        path.write_text(path.read_text().replace("\nProposed\n", f"\n{said}\n"))
    repo.ok("accept", "1")
    assert adr_tools_status(repo.file(1)) == ["Accepted", *debate]
    repo.ok("deprecate", "3")
    assert adr_tools_status(repo.file(3)) == ["Deprecated", board]
    repo.ok("supersede", "3", "--by", "2")
    link = "Superseded by [2. Use Postgres](0002-use-postgres.md)"
    assert adr_tools_status(repo.file(3)) == [link, board]
    graph = adr_tools(repo.path, repo.home, "generate", "graph")
    assert '  _2 -> _3 [label="Supersedes", weight=0]' in graph.splitlines()
    toc = adr_tools(repo.path, repo.home, "generate", "toc")
    assert "* [3. Rotate often](0003-rotate-often.md)" in toc
    listed = adr_tools(repo.path, repo.home, "list").split()
    assert listed == [path.relative_to(repo.path).as_posix() for path in repo.adrs()]


def test_a_persons_edits_and_crlf_line_ends_are_kept(tmp_path):
    repo = Repo(tmp_path, "adr")
    path = repo.file(1)
    edited = path.read_text(encoding="utf-8").replace("## Context", "Our own note.\n\n## Context")
    path.write_bytes(edited.replace("\n", "\r\n").encode("utf-8"))
    repo.ok("accept", "1")
    assert path.read_bytes() == edited.replace("\nProposed\n", "\nAccepted\n").replace(
        "\n", "\r\n"
    ).encode("utf-8")
    repo.ok("supersede", "1", "--by", "2")
    assert (
        b"\r\n\r\nSuperseded by [2. Use Postgres](0002-use-postgres.md)\r\n\r\n"
        in path.read_bytes()
    )
    assert b"\n" not in path.read_bytes().replace(b"\r\n", b"")


@pytest.mark.parametrize("fmt", FOLDERS)
def test_the_format_is_read_from_the_file_not_the_setting(tmp_path, fmt):
    repo = Repo(tmp_path, fmt)
    path = repo.file(1).relative_to(repo.path).as_posix()
    other = next(f for f in FOLDERS if f != fmt)
    repo.ok("accept", path, "--format", other)
    assert lifecycle.read_status(repo.file(1).read_text(), fmt).is_("accepted")


def test_adr_dir_names_the_folder(tmp_path):
    repo = Repo(tmp_path, "madr")
    moved = repo.path / "architecture"
    (repo.path / "docs/decisions").rename(moved)
    repo.ok("accept", "2", "--dir", "architecture")
    assert "status: accepted" in (moved / "0002-use-postgres.md").read_text()
    assert "no ADR 2 in architecture" in repo.refused("accept", "2", "--dir", "elsewhere").replace(
        "elsewhere", "architecture"
    )


def test_link_writes_both_ways_like_adr_link(tmp_path):
    repo = Repo(tmp_path, "adr")
    said = repo.ok("link", "3", "Amends", "1", "Amended by")
    assert [line.split()[0] for line in said] == ["linked", "linked"]
    assert (
        "\nProposed\n\nAmends [1. Use SQLite](0001-use-sqlite.md)\n\n" in repo.file(3).read_text()
    )
    assert (
        "\nProposed\n\nAmended by [3. Rotate often](0003-rotate-often.md)\n\n"
        in repo.file(1).read_text()
    )


# Refusals: one line, a non-zero exit, nothing written


def test_refusals(tmp_path):
    repo = Repo(tmp_path, "adr")
    assert "no ADR 9 in doc/adr" in repo.refused("accept", "9")
    assert "fits more than one ADR" in repo.refused("accept", "use")
    assert "cannot supersede itself" in repo.refused("supersede", "1", "--by", "1")
    repo.ok("supersede", "1", "--by", "2")
    said = repo.refused("supersede", "1", "--by", "3")
    assert "already" in said
    assert "Superseded by [2. Use Postgres]" in said
    assert "is not accepted" in repo.refused("accept", "1")
    assert "would supersede each other" in repo.refused("supersede", "2", "--by", "1")
    (repo.folder / "0005-notes.md").write_text("# 5. Notes\n\nNo status here.\n")
    said = repo.refused("accept", "5")
    assert "has no status pairup can read: expected a '## Status' section (adr-tools)" in said
    (repo.folder / "0006-bytes.md").write_bytes(b"\xff\xfe## Status\n")
    assert "not UTF-8 text" in repo.refused("accept", "6")
    assert "no ADR file" in repo.refused("accept", "doc/adr/0009-none.md")


def test_a_reference_that_is_no_ascii_number_is_refused_in_one_line(tmp_path):
    repo = Repo(tmp_path, "adr")
    assert "no ADR ² in doc/adr" in repo.refused("accept", "²")
    assert "no ADR ² in doc/adr" in repo.refused("supersede", "1", "--by", "²")


@contextmanager
def writes_at_most(repo: "Repo", size: int) -> Iterator[None]:
    """``pairup adr`` run so that no file it writes may grow past ``size`` bytes: the write
    fails (EFBIG) as on a full disk, for root too, whom a folder's mode would not stop."""
    repo.file_limit = size
    try:
        yield
    finally:
        repo.file_limit = None


def test_a_write_that_fails_is_one_line_and_changes_no_file(tmp_path):
    repo = Repo(tmp_path, "adr")
    with writes_at_most(repo, 0):
        said = repo.refused("accept", "1")
        assert "could not write doc/adr/0001-use-sqlite.md" in said
        assert "left as it was" in said
        said = repo.refused("supersede", "1", "--by", "2")
        assert "could not write doc/adr/0002-use-postgres.md" in said
        assert "doc/adr/0001-use-sqlite.md were left as they were" in said
        assert "could not write" in repo.refused("link", "3", "Amends", "1", "Amended by")
    assert not list(repo.folder.glob(".*pairup-new"))


def test_a_supersede_whose_second_write_fails_puts_the_first_back(tmp_path):
    """The back-link is written first; when the superseded file then cannot be written, the
    back-link's file gets its old text again, so neither file is half of a supersede."""
    repo = Repo(tmp_path, "adr")
    new, old = repo.file(2), repo.file(1)
    # A person's long note makes the superseded file the one too large to write.
    with old.open("a", encoding="utf-8") as file:
        file.write("\nA note a person kept here.\n" * 1000)
    before = {path: path.read_bytes() for path in (old, new)}
    with writes_at_most(repo, 10_000):
        done = repo.run("supersede", "1", "--by", "2")
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "could not write doc/adr/0001-use-sqlite.md" in done.stderr
    assert "left as they were" in done.stderr
    assert {path: path.read_bytes() for path in (old, new)} == before
    assert not list(repo.folder.glob(".*pairup-new"))


def test_a_link_to_outside_refuses_only_itself_and_says_so_for_pairup_adr(tmp_path):
    repo = Repo(tmp_path, "adr")
    outside = tmp_path / "outside.md"
    outside.write_text("# 9. Out\n\n## Status\n\nProposed\n")
    (repo.folder / "0009-link.md").symlink_to(outside)
    repo.ok("accept", "1")
    repo.ok("supersede", "2", "--by", "3")
    said = repo.refused("accept", "9")
    assert "outside the repository" in said
    assert "pairup adr" in said
    assert "--out" not in said
    assert outside.read_text() == "# 9. Out\n\n## Status\n\nProposed\n"


def test_an_adr_folder_outside_the_repository_is_refused_for_pairup_adr(tmp_path):
    repo = Repo(tmp_path, "adr")
    elsewhere = tmp_path / "elsewhere"
    repo.folder.rename(elsewhere)
    repo.folder.symlink_to(elsewhere)
    said = repo.refused("accept", "1")
    assert "outside the repository" in said
    assert "--out" not in said
    assert "pairup adr" in said


def test_a_path_outside_the_repository_is_refused(tmp_path):
    repo = Repo(tmp_path, "adr")
    outside = tmp_path / "outside.md"
    outside.write_text("# 1. Out\n\n## Status\n\nProposed\n")
    assert "outside the repository" in repo.refused("accept", str(outside))
    assert outside.read_text() == "# 1. Out\n\n## Status\n\nProposed\n"
    (repo.path / "doc/adr/0009-link.md").symlink_to(outside)
    assert "outside the repository" in repo.refused("accept", "9")
    assert outside.read_text() == "# 1. Out\n\n## Status\n\nProposed\n"


def test_outside_a_repository_it_says_so(tmp_path):
    env = ann_env(tmp_path)
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    done = pairup(elsewhere, env, "adr", "accept", "1")
    assert done.returncode != 0
    assert "not inside a git repository" in done.stderr


def test_help_gives_examples(tmp_path):
    done = pairup(tmp_path, ann_env(tmp_path), "adr", "--help")
    assert done.returncode == 0
    assert "pairup adr supersede 2 --by 5" in done.stdout
    for action in ("accept", "reject", "deprecate", "supersede", "link"):
        helped = pairup(tmp_path, ann_env(tmp_path), "adr", action, "--help")
        assert helped.returncode == 0
        assert f"usage: pairup adr {action}" in helped.stdout
    bare = pairup(tmp_path, ann_env(tmp_path), "adr")
    assert bare.returncode != 0
    assert "name an action" in bare.stderr


# Hostile titles


@pytest.mark.parametrize("key", sorted(CORPUS))
def test_hostile_titles_stay_text_in_every_format(tmp_path, key):
    title = fit(CORPUS[key], 200)
    for fmt in FOLDERS:
        repo = Repo(tmp_path / fmt, fmt, [title, title])
        old, new = (edit.load(path, repo.path) for path in repo.adrs())
        edit.supersede(old, new)
        edit.set_status(edit.load(new.path, repo.path), "accepted")
        old_text, new_text = old.path.read_text(), new.path.read_text()
        escaped = inline(title) or "(no title)"
        if fmt == "madr":
            assert yaml.safe_load(old_text.split("---\n")[1])["status"] == "superseded by ADR-0002"
            assert yaml.safe_load(new_text.split("---\n")[1])["status"] == "accepted"
            assert f"Supersedes [ADR-0001: {escaped}](0001-" in new_text
        elif fmt == "adr":
            assert f"Superseded by [2. {escaped}](0002-" in old_text
            graph = adr_tools(repo.path, repo.home, "generate", "graph")
            assert '  _2 -> _1 [label="Supersedes", weight=0]' in graph.splitlines()
            listed = adr_tools(repo.path, repo.home, "list").split()
            assert len(listed) == 2
        else:
            assert re.search(r"\n- Status: superseded by \[\S+\]\(\S+\.md\)\n", old_text)


def test_a_changed_adr_keeps_its_permissions_and_a_read_only_one_is_refused(tmp_path):
    repo = Repo(tmp_path, "adr")
    private, frozen = repo.file(1), repo.file(2)
    private.chmod(0o600)
    repo.ok("deprecate", "1")
    assert "Deprecated" in private.read_text()
    assert private.stat().st_mode & 0o777 == 0o600
    frozen.chmod(0o444)
    said = repo.refused("accept", "2")
    assert "is read-only; make it writable (chmod u+w)" in said
    assert frozen.stat().st_mode & 0o777 == 0o444
