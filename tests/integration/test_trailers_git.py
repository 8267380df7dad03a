"""pairup's trailer rules against real ``git interpret-trailers``, message for message.

git runs with no system, global or home configuration, so trailer settings on the machine
cannot change its answers, and outside any repository, which ``interpret-trailers`` needs none
of. Messages go in on stdin and the outputs are compared as exact strings.
"""

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairup.git.trailers import Person, Trailer, add_trailers, parse_trailers

GIT = shutil.which("git") or "git"
ALICE = Person("Alice Liddell", "alice@example.org").trailer()
BOB = Person("Bob Dobbs", "bob@example.org").trailer()
ALICE_SHOUTING = Person("ALICE LIDDELL", "ALICE@EXAMPLE.ORG").trailer()
SCISSORS = "# ------------------------ >8 ------------------------\n"

# (id, message, trailers to add)
CASES: list[tuple[str, str, list[Trailer]]] = [
    ("empty", "", [ALICE]),
    ("only-newline", "\n", [ALICE]),
    ("title-only", "Add the timer\n", [ALICE]),
    ("title-without-newline", "Add the timer", [ALICE]),
    ("title-that-looks-like-a-trailer", "Fixes: the timer\n", [ALICE]),
    ("two-line-title", "Add the timer\nand the clock\n", [ALICE, BOB]),
    ("body", "Add the timer\n\nIt counts down.\n", [ALICE, BOB]),
    ("body-without-newline", "Add the timer\n\nIt counts down.", [ALICE]),
    ("signed-off", "Add the timer\n\nBody.\n\nSigned-off-by: A U Thor <a@example.org>\n", [ALICE]),
    ("already-credited", "T\n\nCo-authored-by: Alice Liddell <alice@example.org>\n", [ALICE, BOB]),
    (
        "already-credited-other-case",
        "T\n\nco-authored-by: alice liddell <Alice@Example.org>\n",
        [ALICE],
    ),
    ("twice-in-one-call", "T\n", [ALICE, ALICE_SHOUTING, BOB, ALICE]),
    ("same-person-other-name", "T\n\nCo-authored-by: Ally <alice@example.org>\n", [ALICE]),
    ("key-prefix", "T\n\nCo: Alice Liddell <alice@example.org>\n", [ALICE]),
    ("block-without-newline", "T\n\nReviewed-by: R <r@example.org>", [ALICE]),
    ("folded-value", "T\n\nNote: a long\n  note over\n\tthree lines\nAcked-by: X <x@y>\n", [ALICE]),
    ("folded-credit", "T\n\nCo-authored-by: Alice Liddell\n <alice@example.org>\n", [ALICE]),
    ("spaced-key", "T\n\nReviewed-by :   R <r@example.org>  \nKey:tight\n", [ALICE]),
    ("comment-after-block", "T\n\nKey: v\n# Please enter the commit message.\n#\n", [ALICE]),
    ("comment-inside-block", "T\n\nKey: v\n# a comment\nOther: w\n", [ALICE]),
    ("comment-only", "# Please enter the commit message.\n", [ALICE]),
    (
        "hook-template",
        "\n# Please enter the commit message.\n# Lines starting with '#'.\n",
        [ALICE],
    ),
    ("comment-before-title", "# note\nTitle\n\nKey: v\n", [ALICE]),
    ("divider", "T\n\nBody.\n---\n a/file | 2 +-\n", [ALICE]),
    ("divider-after-block", "T\n\nKey: v\n---\nOther: w\n", [ALICE]),
    ("divider-with-text", "T\n\nBody.\n--- a/file\n+++ b/file\n", [ALICE]),
    ("dashes-not-a-divider", "T\n\nBody.\n---x\n", [ALICE]),
    ("divider-at-the-very-end", "T\n\nBody.\n---", [ALICE]),
    ("scissors", "T\n\nKey: v\n" + SCISSORS + "diff --git a/f b/f\n", [ALICE]),
    ("scissors-first", SCISSORS + "Key: v\n", [ALICE]),
    ("crlf-body", "Add the timer\r\n\r\nIt counts down.\r\n", [ALICE]),
    ("crlf-block", "T\r\n\r\nSigned-off-by: A <a@x>\r\nKey: v\r\n", [ALICE]),
    ("crlf-trailing-blank", "T\r\n\r\nBody.\r\n\r\n", [ALICE]),
    ("crlf-title-only", "T\r\n", [ALICE]),
    ("crlf-comment-then-blank", "T\r\n\r\nKey: v\r\n# c\r\n\r\n", [ALICE]),
    ("url-trailer", "T\n\nSee: https://example.com/issue/1\n", [ALICE]),
    ("bare-url", "T\n\nhttps://example.com/issue/1\n", [ALICE]),
    ("url-in-prose", "T\n\nSee https://example.com\nKey: v\n", [ALICE]),
    ("trailing-blank-lines", "T\n\nBody.\n\n\n", [ALICE]),
    ("trailing-blank-lines-after-block", "T\n\nKey: v\n\n\n", [ALICE]),
    ("whitespace-line-after-block", "T\n\nKey: v\n \n", [ALICE]),
    ("trailer-like-paragraph-not-last", "T\n\nKey: v\nOther: w\n\nProse after.\n", [ALICE]),
    ("mixed-without-git-trailer", "T\n\nKey: v\nprose\n", [ALICE]),
    ("signed-off-among-prose", "T\n\nSigned-off-by: A <a@x>\nprose\nmore\nmore\n", [ALICE]),
    ("too-much-prose", "T\n\nSigned-off-by: A <a@x>\nprose\nmore\nmore\nmore\n", [ALICE]),
    ("cherry-picked", "T\n\nBody.\n\n(cherry picked from commit 0123abcd)\n", [ALICE]),
    ("old-conflicts-block", "T\n\nKey: v\n\nConflicts:\n\tpairup/cli.py\n", [ALICE]),
    ("bug-hash", "T\n\nBug #42: crash\n", [ALICE]),
    ("separator-first", "T\n\n: no key\n", [ALICE]),
    ("empty-value", "T\n\nKey:\nOther: w\n", [ALICE]),
    ("form-feed-value", "T\n\nKey: v\x0c\n", [ALICE]),
    ("non-ascii", "Zähler\n\nCo-authored-by: Zoë Ågren <zoe@example.org>\n", [ALICE]),
    ("nothing-to-add", "T\n\nKey:v\n", []),
]


def git(message: str, *args: str, home: str) -> str:
    env = {"HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    completed = subprocess.run(
        [GIT, "interpret-trailers", *args],
        input=message.encode(),
        capture_output=True,
        cwd=home,
        env=env,
        check=True,
        timeout=10,
    )
    return completed.stdout.decode()


def git_add(message: str, trailers: list[Trailer], home: str) -> str:
    args = [arg for trailer in trailers for arg in ("--trailer", str(trailer))]
    return git(message, "--if-exists", "addIfDifferent", *args, home=home)


def rendered(trailers: list[Trailer]) -> str:
    return "".join(f"{trailer}\n" for trailer in trailers)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("home"))


def test_the_table_covers_enough_messages():
    assert len(CASES) >= 30
    assert len({case_id for case_id, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("message", "trailers"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_matches_git(message, trailers, home):
    assert rendered(parse_trailers(message)) == git(message, "--parse", home=home)


@pytest.mark.parametrize(("message", "trailers"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_add_matches_git(message, trailers, home):
    assert add_trailers(message, trailers) == git_add(message, trailers, home)


# Lines that sit near git's edge cases, shuffled into messages by hypothesis. No scissors line:
# below a ``---`` divider one makes git 2.39 loop for ever.
_LINES = [
    "Title",
    "",
    " ",
    "\t",
    "\r",
    "Body text",
    "Key: v",
    "key: V",
    "Key :  w  ",
    "Key:v",
    "Key:",
    "Co-authored-by: Alice Liddell <alice@example.org>",
    "co-authored-by: ALICE LIDDELL <alice@example.org>",
    "Co: Bob Dobbs <bob@example.org>",
    "Signed-off-by: A <a@x>",
    "(cherry picked from commit 0123abcd)",
    "  continued",
    "\tcontinued",
    "# comment",
    "#",
    "---",
    "--- a/file",
    "---x",
    "https://example.com",
    "See: https://example.com",
    "Conflicts:",
    "\tpairup/cli.py",
    ": no key",
    "Bug #1: x",
    "Key: v\r",
    "Key: v\x0c",
]
_TRAILERS = [ALICE, BOB, ALICE_SHOUTING, Trailer("Key", "v"), Trailer("Signed-off-by", "A <a@x>")]


@settings(max_examples=150)
@given(
    lines=st.lists(st.sampled_from(_LINES), max_size=9),
    end=st.sampled_from(["", "\n", "\r\n", "\n\n"]),
    trailers=st.lists(st.sampled_from(_TRAILERS), max_size=3),
)
def test_any_mix_of_edge_lines_matches_git(lines, end, trailers, home):
    message = "\n".join(lines) + end
    assert rendered(parse_trailers(message)) == git(message, "--parse", home=home)
    assert add_trailers(message, trailers) == git_add(message, trailers, home)
