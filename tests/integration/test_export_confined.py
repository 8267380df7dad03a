"""``pairup export`` keeps to the repository, and participants' text keeps to text.

A repository is often someone else's: its ``.pairup.toml``, its ``.adr-dir`` and the links
committed in it choose where an export goes. Each test of the first kind plants one way out in
a real git repository in a temporary directory, runs the real ``pairup export`` in a subprocess
with a home and data dir of its own, and checks that it refuses in one line naming the
setting, exits non-zero and writes nothing, or (for a link planted where pairup writes its
temporary files) that the export never writes through the link.

A partner is someone else too: what they type reaches every exported file. The tests of the
second kind export the hostile corpus from every field, in every format, and read the bytes
of the files: no control character but line breaks and tabs, no bidirectional control raw;
and a marker line forged in a decision's text never makes another decision's file its own.
"""

import json
import os
import re
from pathlib import Path

from pairup.adr import marker
from pairup.session import decode_event
from pairup.session import events as ev
from tests.export_kit import Clock, make_repo, record_session
from tests.hostile import CORPUS, NAMEABLE, fit

from .test_git_commits import pairup
from .test_headless import environment

SESSION = "s-confined"
FORGED = "s-forged-marker"


def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A repository at ``tmp_path/work/repo``, a folder ``tmp_path/outside`` that must stay
    empty, and an environment whose data dir holds a session with one decision."""
    repo = Path(make_repo(tmp_path / "work" / "repo").workdir)
    outside = tmp_path / "outside"
    outside.mkdir()
    env = environment(tmp_path, "a")
    clock = Clock()
    ann = ev.Participant(id="ann", name="Ann")
    record_session(
        Path(env["PAIRUP_DATA_DIR"]),
        SESSION,
        [
            clock(ev.SessionOpened, 0, title="Confined"),
            clock(ev.ParticipantJoined, 0, participant=ann),
            clock(ev.DecisionRecorded, 60, decision_id="dec-confined", title="Stay inside"),
            clock(ev.SessionEnded, 120),
        ],
    )
    return repo, outside, env


def files_in(folder: Path) -> list[str]:
    """Every file and link under ``folder`` but git's own, relative to it."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if ".git" not in path.relative_to(folder).parts and not path.is_dir()
    )


def refused(repo: Path, env: dict[str, str], *args: str) -> str:
    """Run the export, which must fail with one line and no traceback; that line."""
    before = files_in(repo)
    done = pairup(repo, env, "export", SESSION, *args)
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("pairup: "), line
    assert files_in(repo) == before, "a refused export wrote nothing"
    return line


def test_adr_dir_leading_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo, outside, env = setup(tmp_path)
    (repo / ".pairup.toml").write_text('[adr]\ndir = "../../outside"\n', encoding="utf-8")

    line = refused(repo, env)

    assert "adr.dir = '../../outside'" in line
    assert f"outside the repository {repo.resolve()}" in line
    assert "set adr.dir to a folder inside the repository" in line
    assert files_in(outside) == []


def test_an_absolute_adr_dir_elsewhere_is_refused(tmp_path: Path) -> None:
    repo, outside, env = setup(tmp_path)
    (repo / ".pairup.toml").write_text(f"[adr]\ndir = {str(outside)!r}\n", encoding="utf-8")

    line = refused(repo, env, "--format", "madr")

    assert f"adr.dir = {str(outside)!r} puts the export in {outside.resolve()}" in line
    assert files_in(outside) == []


def test_record_dir_leading_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo, outside, env = setup(tmp_path)
    (repo / ".pairup.toml").write_text(
        '[adr]\nrecord_dir = "../../outside/records"\n', encoding="utf-8"
    )

    line = refused(repo, env, "--format", "markdown")

    assert "adr.record_dir = '../../outside/records'" in line
    assert "--no-record" in line
    assert files_in(outside) == []


def test_an_adr_folder_that_is_a_link_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo, outside, env = setup(tmp_path)
    (repo / "doc").mkdir()
    (repo / "doc" / "adr").symlink_to(outside, target_is_directory=True)

    line = refused(repo, env)

    assert "doc/adr (where adr ADRs go)" in line
    assert files_in(outside) == []


def test_an_adr_that_is_a_link_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    repo, outside, env = setup(tmp_path)
    secret = outside / "notes.md"
    secret.write_text("someone else's notes\n", encoding="utf-8")
    (repo / "doc" / "adr").mkdir(parents=True)
    (repo / "doc" / "adr" / "0001-notes.md").symlink_to(secret)

    line = refused(repo, env, "--force")

    assert f"0001-notes.md is a link to {secret.resolve()}" in line
    assert "remove the link" in line
    assert secret.read_text(encoding="utf-8") == "someone else's notes\n"


def test_an_adr_dir_file_above_the_repository_leading_elsewhere_is_refused(
    tmp_path: Path,
) -> None:
    repo, outside, env = setup(tmp_path)
    # adr-tools looks for .adr-dir upwards from where it runs; this one is in the folder
    # that holds the repository, and names a folder beside it.
    (repo.parent / ".adr-dir").write_text("../outside\n", encoding="utf-8")

    line = refused(repo, env)

    assert f"the .adr-dir file in {repo.parent} ('../outside')" in line
    assert files_in(outside) == []


def test_a_link_where_the_export_writes_its_new_file_is_not_written_through(
    tmp_path: Path,
) -> None:
    repo, outside, env = setup(tmp_path)
    target = outside / "bashrc"
    target.write_text("# mine\n", encoding="utf-8")
    folder = repo / "doc" / "adr"
    folder.mkdir(parents=True)
    # Where pairup used to write the ADR before renaming it into place.
    (folder / ".0001-stay-inside.md.pairup-new").symlink_to(target)

    done = pairup(repo, env, "export", SESSION)

    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == "# mine\n"
    adr = folder / "0001-stay-inside.md"
    assert adr.read_text(encoding="utf-8").startswith("# 1. Stay inside\n")
    assert not adr.is_symlink()
    assert sorted(os.listdir(folder)) == [".0001-stay-inside.md.pairup-new", adr.name]


RAW_CONTROL = re.compile(
    rb"[\x00-\x08\x0b-\x1f\x7f]"  # C0 but tab and line feed, and DEL
    rb"|\xc2[\x80-\x9f]"  # C1, as UTF-8
    rb"|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]"  # bidirectional controls
)
FORMATS = {
    "adr": "doc/adr",
    "madr": "docs/decisions",
    "log4brains": "docs/adr",
    "markdown": ".pairup/sessions",
    "json": ".pairup/sessions",
}


def hostile_session(data_dir: Path) -> list[ev.Event]:
    """Every corpus entry in every field: a decision's title and bodies, a commit's subject, a
    lesson, and (for those a name may hold) the names of the people."""
    clock = Clock()
    names = [fit(text, 200) for text in NAMEABLE.values()][:7]
    people = [ev.Participant(id="ann", name="Ann")] + [
        ev.Participant(id=f"p{index}", name=name) for index, name in enumerate(names, start=1)
    ]
    events: list[ev.Event] = [clock(ev.SessionOpened, 0, title=fit(CORPUS["bidi override"], 200))]
    events += [
        clock(ev.ParticipantJoined, 1, actor=person.id, participant=person) for person in people
    ]
    events.append(clock(ev.TurnStarted, 2, turn=1))
    for index, text in enumerate(CORPUS.values(), start=1):
        events += [
            clock(
                ev.DecisionRecorded,
                10 + index,
                decision_id=f"dec-hostile-{index:03d}",
                title=fit(text, 200),
                context=text,
                decision=text,
                consequences=text,
            ),
            clock(
                ev.CommitRecorded,
                10 + index,
                sha=f"{index:040x}",
                summary=fit(text, 200),
                author=ev.Person(name=people[index % len(people)].name),
                co_authors=tuple(ev.Person(name=person.name) for person in people[1:]),
            ),
            clock(ev.LessonNoted, 10 + index, text=fit(text, 2000)),
        ]
    events.append(clock(ev.SessionEnded, 100))
    record_session(data_dir, SESSION, events)
    return events


def test_no_exported_file_carries_a_control_character_raw(tmp_path: Path) -> None:
    repo = Path(make_repo(tmp_path / "repo").workdir)
    env = environment(tmp_path, "a")
    events = hostile_session(Path(env["PAIRUP_DATA_DIR"]))

    for fmt in FORMATS:
        done = pairup(repo, env, "export", SESSION, "--format", fmt)
        assert done.returncode == 0, done.stderr

    written = {
        path: path.read_bytes()
        for path in repo.rglob("*")
        if ".git" not in path.parts and path.is_file()
    }
    for fmt, folder in FORMATS.items():
        assert any(path.parent == repo / folder for path in written), fmt
    for path, data in written.items():
        found = RAW_CONTROL.search(data)
        assert found is None, f"{path.relative_to(repo)}: {found.group()!r} raw"
    csi = written[next((repo / "doc/adr").glob("0006-*.md"))]
    assert "␛\\[31mred␛\\[0m".encode() in csi, "an escape sequence is shown by its names"
    madr = written[next((repo / "docs/decisions").glob("0001-*.md"))]
    assert "⟨RLO⟩".encode() in madr.split(b"---")[1], "a name in the front matter too"
    (log,) = [data for path, data in written.items() if path.suffix == ".json"]
    kept = [decode_event(json.dumps(event)) for event in json.loads(log)["events"]]
    assert kept == events, "the JSON log still reads back as exactly what was typed"


def test_a_marker_forged_in_a_decision_never_claims_another_decisions_file(
    tmp_path: Path,
) -> None:
    repo = Path(make_repo(tmp_path / "repo").workdir)
    env = environment(tmp_path, "a")
    data_dir = Path(env["PAIRUP_DATA_DIR"])
    ann = ev.Participant(id="ann", name="Ann")
    mallory = ev.Participant(id="mallory", name="Mallory")
    clock = Clock()
    record_session(
        data_dir,
        FORGED,
        [
            clock(ev.SessionOpened, 0, title="Forgery"),
            clock(ev.ParticipantJoined, 0, participant=ann),
            clock(ev.ParticipantJoined, 1, actor="mallory", participant=mallory),
            clock(ev.DecisionRecorded, 60, decision_id="dec-victim", title="Stay inside"),
            clock(
                ev.DecisionRecorded,
                61,
                actor="mallory",
                decision_id="dec-mallory",
                title="Mallory's own",
            ),
        ],
    )
    folder = repo / "doc" / "adr"
    done = pairup(repo, env, "export", FORGED, "--no-record")
    assert done.returncode == 0, done.stderr
    victim = folder / "0001-stay-inside.md"
    before = victim.read_bytes()
    forged = before.decode().rstrip("\n").rsplit("\n", 1)[1]
    assert marker.read(before.decode()) is not None
    assert forged.startswith(f"<!-- pairup: session={FORGED} decision=dec-victim digest=")
    # Mallory, who can read the repository, amends her decision so that every field holds the
    # victim's marker line, exact, as a line of its own and as its very end.
    planted = f"{forged}\n\n{forged}\n{forged}"
    record_session(
        data_dir,
        FORGED,
        [
            clock(
                ev.DecisionAmended,
                63,
                actor="mallory",
                decision_id="dec-mallory",
                title=forged,
                context=planted,
                decision=planted,
                consequences=planted,
            ),
            clock(ev.LessonNoted, 64, actor="mallory", text=planted),
        ],
        more=True,
    )

    for args in ((), ("--force",)):
        done = pairup(repo, env, "export", FORGED, *args)
        assert done.returncode == 0, done.stderr

    assert victim.read_bytes() == before, "the victim's ADR is not touched"
    names = sorted(path.name for path in folder.iterdir())
    assert len(names) == 2, names
    (mine,) = [folder / name for name in names if name != victim.name]
    text = mine.read_text(encoding="utf-8")
    found = marker.read(text)
    assert found is not None
    assert (found.marker.decision_id, found.untouched) == ("dec-mallory", True)
    lines = text.splitlines()
    assert lines.count(forged) == 0, "no line of Mallory's text is a marker line"
    assert lines[-1].startswith(f"<!-- pairup: session={FORGED} decision=dec-mallory ")
