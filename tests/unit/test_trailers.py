"""Commit-message trailers: git's rules for finding, reading and adding them.

Every expected string here is what ``git interpret-trailers`` (2.39) prints for the same input;
``tests/integration/test_trailers_git.py`` checks a wider table against real git.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup.git.trailers import Person, Trailer, add_co_authors, add_trailers, parse_trailers

ALICE = Person("Alice Liddell", "alice@example.org")
BOB = Person("Bob Dobbs", "bob@example.org")
CAROL = Person("Carol Danvers", "carol@example.org")


def co(person: Person) -> str:
    return f"Co-authored-by: {person.name} <{person.email}>\n"


# --- the value types -----------------------------------------------------------------------


def test_a_trailer_reads_as_key_colon_value():
    assert str(Trailer("Signed-off-by", "A U Thor <a@example.org>")) == (
        "Signed-off-by: A U Thor <a@example.org>"
    )


def test_a_person_is_credited_with_co_authored_by():
    assert ALICE.trailer() == Trailer("Co-authored-by", "Alice Liddell <alice@example.org>")


@pytest.mark.parametrize("key", ["", "Co authored", "Key:", "Ключ", "A=B"])
def test_a_key_git_would_not_read_back_is_refused(key):
    with pytest.raises(ValueError, match="key"):
        Trailer(key, "value")


@pytest.mark.parametrize("value", ["two\nlines", " padded", "padded\t", "crlf\r"])
def test_a_value_git_would_not_read_back_is_refused(value):
    with pytest.raises(ValueError, match="value"):
        Trailer("Key", value)


def test_a_value_may_end_in_a_form_feed_which_git_does_not_trim():
    assert Trailer("Key", "v\x0c").value == "v\x0c"


# --- finding and reading the block -----------------------------------------------------------


def test_the_last_paragraph_of_trailers_is_the_block():
    message = "Title\n\nBody text.\n\nSigned-off-by: A <a@x>\nCo-authored-by: B <b@x>\n"
    assert parse_trailers(message) == [
        Trailer("Signed-off-by", "A <a@x>"),
        Trailer("Co-authored-by", "B <b@x>"),
    ]


def test_the_title_is_never_a_trailer_block():
    assert parse_trailers("Fixes: the build\n") == []
    assert parse_trailers("Title\nKey: value\n") == []


def test_a_trailer_paragraph_that_is_not_last_is_body():
    assert parse_trailers("Title\n\nKey: value\n\nJust prose.\n") == []


def test_repeated_keys_are_kept_in_order():
    message = "T\n\nCo-authored-by: B <b@x>\nReviewed-by: R\nCo-authored-by: A <a@x>\n"
    assert [t.value for t in parse_trailers(message)] == ["B <b@x>", "R", "A <a@x>"]


def test_continuation_lines_are_unfolded():
    message = "T\n\nKey: a long\n  value\n\tover lines\nOther: x\n"
    assert parse_trailers(message) == [
        Trailer("Key", "a long value over lines"),
        Trailer("Other", "x"),
    ]


def test_keys_and_values_are_trimmed():
    assert parse_trailers("T\n\nKey :   spaced out  \n") == [Trailer("Key", "spaced out")]


def test_prose_in_the_block_needs_a_git_trailer_and_a_quarter_of_trailers():
    three = "T\n\nSigned-off-by: A <a@x>\nprose\nprose\nprose\n"
    four = "T\n\nSigned-off-by: A <a@x>\nprose\nprose\nprose\nprose\n"
    without_git_trailer = "T\n\nReviewed-by: A <a@x>\nprose\n"
    assert parse_trailers(three) == [Trailer("Signed-off-by", "A <a@x>")]
    assert parse_trailers(four) == []
    assert parse_trailers(without_git_trailer) == []


def test_comment_lines_are_skipped_in_and_after_the_block():
    message = "T\n\n# inside\nKey: v\n# after\n\n# Please enter the commit message\n"
    assert parse_trailers(message) == [Trailer("Key", "v")]


def test_a_patch_divider_ends_the_message():
    assert parse_trailers("T\n\nKey: v\n---\nOther: w\n") == [Trailer("Key", "v")]
    assert parse_trailers("T\n\nKey: v\n--- a/file\n") == [Trailer("Key", "v")]


def test_dashes_without_a_blank_after_them_are_no_divider():
    assert parse_trailers("T\n\nKey: v\n---x: w\n") == [Trailer("Key", "v"), Trailer("---x", "w")]


def test_the_scissors_line_of_commit_verbose_ends_the_message():
    message = "T\n\nKey: v\n# ------------------------ >8 ------------------------\ndiff\n"
    assert parse_trailers(message) == [Trailer("Key", "v")]


def test_crlf_lines_are_read_without_their_cr():
    assert parse_trailers("T\r\n\r\nKey: v\r\nOther: w\r\n") == [
        Trailer("Key", "v"),
        Trailer("Other", "w"),
    ]


def test_a_bare_url_line_reads_as_a_trailer_as_git_reads_it():
    assert parse_trailers("T\n\nhttps://example.com\n") == [Trailer("https", "//example.com")]
    assert parse_trailers("T\n\nSee: https://example.com\n") == [
        Trailer("See", "https://example.com")
    ]


def test_a_url_in_prose_keeps_its_paragraph_prose():
    assert parse_trailers("T\n\nSee https://example.com\nKey: v\n") == []


def test_an_empty_message_has_no_trailers():
    assert parse_trailers("") == []


# --- adding ----------------------------------------------------------------------------------


def test_a_title_only_message_gets_a_blank_line_then_the_block():
    assert add_trailers("Title\n", [ALICE.trailer()]) == "Title\n\n" + co(ALICE)


def test_an_empty_message_gets_a_blank_line_then_the_block():
    assert add_trailers("", [ALICE.trailer()]) == "\n" + co(ALICE)


def test_new_trailers_go_after_existing_ones():
    message = "Title\n\nBody.\n\nSigned-off-by: A U Thor <a@example.org>\n"
    assert add_trailers(message, [ALICE.trailer(), BOB.trailer()]) == message + co(ALICE) + co(BOB)


def test_a_body_gets_exactly_one_blank_line_before_the_new_block():
    assert add_trailers("Title\n\nBody.\n", [ALICE.trailer()]) == "Title\n\nBody.\n\n" + co(ALICE)


def test_a_trailer_already_there_is_not_added_again_whatever_its_case():
    message = "T\n\nco-authored-by: alice liddell <ALICE@example.org>\n"
    assert add_trailers(message, [ALICE.trailer()]) == message


def test_the_same_key_with_another_value_is_added():
    message = "T\n\n" + co(ALICE)
    assert add_trailers(message, [BOB.trailer()]) == message + co(BOB)


def test_a_trailer_given_twice_is_added_once():
    assert add_trailers("T\n", [ALICE.trailer(), ALICE.trailer()]) == "T\n\n" + co(ALICE)


def test_a_key_matches_a_key_it_is_a_prefix_of_as_in_git():
    message = "T\n\nCo: Alice Liddell <alice@example.org>\n"
    assert add_trailers(message, [ALICE.trailer()]) == message


def test_new_trailers_go_above_trailing_comments():
    message = "T\n\nKey: v\n# Please enter the commit message\n#\n"
    assert add_trailers(message, [ALICE.trailer()]) == (
        "T\n\nKey: v\n" + co(ALICE) + "# Please enter the commit message\n#\n"
    )


def test_new_trailers_go_above_a_patch():
    message = "T\n\nBody.\n---\n a/file | 2 +-\n"
    assert add_trailers(message, [ALICE.trailer()]) == (
        "T\n\nBody.\n\n" + co(ALICE) + "---\n a/file | 2 +-\n"
    )


def test_the_block_is_rewritten_the_way_git_writes_it():
    message = "T\n\nKey :v\nFolded: a\n  b\n# gone\nSigned-off-by: A <a@x>\nprose stays\n"
    assert add_trailers(message, [ALICE.trailer()]) == (
        "T\n\nKey: v\nFolded: a\n  b\nSigned-off-by: A <a@x>\nprose stays\n" + co(ALICE)
    )


def test_crlf_messages_get_lf_trailers_as_git_writes_them():
    assert add_trailers("T\r\n\r\nBody.\r\n", [ALICE.trailer()]) == (
        "T\r\n\r\nBody.\r\n\n" + co(ALICE)
    )
    assert add_trailers("T\r\n\r\nKey: v\r\n", [ALICE.trailer()]) == "T\r\n\r\nKey: v\n" + co(ALICE)


def test_trailing_blank_lines_stay_after_the_new_block():
    assert add_trailers("T\n\nBody.\n\n\n", [ALICE.trailer()]) == (
        "T\n\nBody.\n\n" + co(ALICE) + "\n\n"
    )


def test_without_a_final_newline_git_239_appends_to_the_last_line():
    assert add_trailers("Title", [ALICE.trailer()]) == "Title\n" + co(ALICE)
    assert add_trailers("T\n\nKey: v", [ALICE.trailer()]) == "T\n\nKey: v\n" + co(ALICE)


def test_adding_nothing_still_rewrites_like_git():
    assert add_trailers("Title\n", []) == "Title\n\n"
    assert add_trailers("T\n\nKey:v\n", []) == "T\n\nKey: v\n"


def test_a_scissors_line_below_the_divider_is_below_the_end():
    """git 2.39 loops for ever on this message; here the scissors simply do not matter."""
    message = "T\n\nBody.\n---\n# ------------------------ >8 ------------------------\n"
    assert add_trailers(message, [ALICE.trailer()]) == (
        "T\n\nBody.\n\n" + co(ALICE) + message.removeprefix("T\n\nBody.\n")
    )


# --- co-authors ------------------------------------------------------------------------------


def test_co_authors_are_credited_in_the_order_given():
    assert add_co_authors("T\n", [BOB, ALICE], author_email="carol@example.org") == (
        "T\n\n" + co(BOB) + co(ALICE)
    )


def test_the_author_is_not_credited_whatever_the_case_of_their_email():
    assert add_co_authors("T\n", [ALICE, BOB], author_email="Alice@Example.ORG") == (
        "T\n\n" + co(BOB)
    )


def test_an_email_already_credited_is_not_credited_again():
    message = "T\n\nCo-authored-by: Ally <ALICE@example.org>\n"
    assert add_co_authors(message, [ALICE, BOB], author_email="c@x") == message + co(BOB)


def test_an_email_given_twice_is_credited_once():
    twin = Person("Alice L.", "Alice@Example.org")
    assert add_co_authors("T\n", [ALICE, twin], author_email="c@x") == "T\n\n" + co(ALICE)


def test_other_trailers_do_not_count_as_credit():
    message = "T\n\nSigned-off-by: Alice Liddell <alice@example.org>\n"
    assert add_co_authors(message, [ALICE], author_email="c@x") == message + co(ALICE)


def test_with_nobody_to_credit_the_message_is_untouched():
    message = "T\n\nKey:v\n"
    assert add_co_authors(message, [], author_email="c@x") == message
    assert add_co_authors(message, [CAROL], author_email="carol@example.org") == message


# --- properties --------------------------------------------------------------------------------

_WORD = st.from_regex(r"[A-Za-z][a-z]{0,7}", fullmatch=True)
# Prose never holds a colon, so no prose line can pass for a trailer.
_PROSE = st.from_regex(r"[A-Za-z][A-Za-z0-9 .,!?'()/]{0,40}", fullmatch=True)
_EMAIL = st.builds("{}@{}.org".format, _WORD, _WORD)
_PERSON = st.builds(Person, name=st.builds("{} {}".format, _WORD, _WORD), email=_EMAIL)
_KEYS = ["Signed-off-by", "Reviewed-by", "Acked-by", "Fixes", "Co-authored-by", "co-authored-by"]
_TAIL = st.lists(st.sampled_from(["# Please enter the commit message.", "#", ""]), max_size=3)


def _distinct(people: list[Person]) -> list[Person]:
    seen: set[str] = set()
    kept = []
    for person in people:
        if person.email.casefold() not in seen:
            seen.add(person.email.casefold())
            kept.append(person)
    return kept


_PEOPLE = st.lists(_PERSON, max_size=4).map(_distinct)


@st.composite
def _messages(draw: st.DrawFn, credited: st.SearchStrategy[list[Person]] = _PEOPLE) -> tuple:
    """A newline-terminated message as (the text, the part of it above its trailer block).

    git 2.39 appends new trailers to an unterminated last line (see the test above), which is
    why these messages, like every message git commit hands to a hook, end with a newline. And
    a CRLF blank line below a comment under the block is a line of the block to git, kept when
    nothing is added and then folded into the trailer above the next time, so git itself is
    not idempotent there; CRLF messages here end in comments only.
    """
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = draw(_PROSE) + eol
    for paragraph in draw(st.lists(st.lists(_PROSE, min_size=1, max_size=3), max_size=3)):
        text += eol + "".join(line + eol for line in paragraph)
    lines = [
        f"{key}: {value}"
        for key, value in draw(st.lists(st.tuples(st.sampled_from(_KEYS), _PROSE), max_size=3))
    ]
    lines += [co(person).rstrip("\n") for person in draw(credited)]
    lines = draw(st.permutations(lines))
    above = text + eol if lines else text
    text = above + "".join(line + eol for line in lines)
    tail = [line for line in draw(_TAIL) if line or eol == "\n"]
    return text + "".join(line + eol for line in tail), above


def _credits(message: str) -> list[str]:
    return [
        t.value.casefold() for t in parse_trailers(message) if t.key.casefold() == "co-authored-by"
    ]


@given(_messages(), _PEOPLE.filter(bool))
def test_adding_twice_is_adding_once(message, people):
    trailers = [person.trailer() for person in people]
    once = add_trailers(message[0], trailers)
    assert add_trailers(once, trailers) == once


@given(_messages(), _PEOPLE)
def test_crediting_twice_is_crediting_once(message, people):
    once = add_co_authors(message[0], people, author_email="author@example.org")
    assert add_co_authors(once, people, author_email="author@example.org") == once


@given(st.data(), _PEOPLE.filter(bool))
def test_every_added_trailer_is_there_exactly_once(data, people):
    credited = st.lists(st.sampled_from(people), max_size=len(people), unique=True)
    message, _ = data.draw(_messages(credited))
    credits = _credits(add_trailers(message, [person.trailer() for person in people]))
    for person in people:
        assert credits.count(person.trailer().value.casefold()) == 1


@given(_messages(), _PEOPLE, _PERSON, st.sampled_from([str.lower, str.upper, str]))
def test_the_author_is_never_credited(message, people, author, case):
    message, _ = message
    if author.email.casefold() in {email.casefold() for email in _emails(message)}:
        return
    credited = add_co_authors(message, [*people, author], author_email=case(author.email))
    assert author.email.casefold() not in _emails(credited)


@given(_messages(), _PEOPLE.filter(bool))
def test_the_text_above_the_trailer_block_is_kept(message, people):
    text, above = message
    assert add_trailers(text, [person.trailer() for person in people]).startswith(above)
    assert add_co_authors(text, people, author_email="author@example.org").startswith(above)


def _emails(message: str) -> list[str]:
    return [value.rsplit("<", 1)[-1].rstrip(">").casefold() for value in _credits(message)]
