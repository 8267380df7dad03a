"""``pairup export`` writes only inside the repository, whatever the repository says.

A repository is often someone else's: its ``.pairup.toml``, its ``.adr-dir`` and the links
committed in it choose where an export goes. Each test here plants one way out in a real git
repository in a temporary directory, runs the real ``pairup export`` in a subprocess with a
home and data dir of its own, and checks that it refuses in one line naming the setting, exits
non-zero and writes nothing, or (for a link planted where pairup writes its temporary files)
that the export never writes through the link.
"""

import os
from pathlib import Path

from pairup.session import events as ev
from tests.export_kit import Clock, make_repo, record_session

from .test_git_commits import pairup
from .test_headless import environment

SESSION = "s-confined"


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
