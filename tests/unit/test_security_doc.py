"""docs/security.md names the test behind each row of its threat model: every one must exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"`([^`]+)`")


def named_tests() -> list[tuple[str, str | None]]:
    """(file, test) for every test the threat model names; a file named alone has None."""
    named: list[tuple[str, str | None]] = []
    for line in (ROOT / "docs" / "security.md").read_text().splitlines():
        if not line.startswith("| **"):
            continue
        where = ""
        for token in TOKEN.findall(line.split(" | ")[-1]):
            path, _, test = token.partition("::")
            if path.startswith("tests/") and path.endswith(".py"):
                where = path
                named.append((where, test or None))
            elif token.startswith("test_"):
                assert where, f"{token} in docs/security.md follows no test file"
                named.append((where, token))
    return named


def test_every_row_of_the_threat_model_names_tests_that_exist():
    named = named_tests()
    assert len({path for path, _ in named}) >= 8
    for path, test in named:
        source = ROOT / path
        assert source.exists(), f"docs/security.md names {path}, which does not exist"
        if test is not None:
            assert re.search(rf"^(async )?def {test}\(", source.read_text(), re.M), (
                f"docs/security.md names {path}::{test}, which does not exist"
            )
