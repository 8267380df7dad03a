"""Co-authors' emails, corrected by a ``.git-coauthors`` file, and checked for usefulness.

A partner's email is what they announced when they joined, which may be empty or a work
address GitHub does not know. A ``.git-coauthors`` file (git-mob's JSON format, in the
repository, then in the home directory) can supply or correct it, matched by name::

    {"coauthors": {"ad": {"name": "Amy Doe", "email": "amy@example.com"}}}
"""

import json
from collections.abc import Iterable
from pathlib import Path

from pairup.git.trailers import Person

FILE_NAME = ".git-coauthors"


def known_emails(places: Iterable[Path]) -> dict[str, str]:
    """Email by lower-cased name from the ``.git-coauthors`` files in ``places``; an earlier
    place wins. Unreadable files are skipped: they must never stop a commit."""
    emails: dict[str, str] = {}
    for place in places:
        try:
            record = json.loads((place / FILE_NAME).read_text(encoding="utf-8"))
            entries = record["coauthors"].values()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") and entry.get("email"):
                emails.setdefault(str(entry["name"]).casefold(), str(entry["email"]))
    return emails


def corrected(people: Iterable[Person], emails: dict[str, str]) -> tuple[Person, ...]:
    return tuple(
        Person(name=person.name, email=emails.get(person.name.casefold(), person.email))
        for person in people
    )


def unusable(person: Person) -> str | None:
    """Why GitHub would not attribute a commit to this email, if it would not."""
    email = person.email.strip()
    if not email:
        return f"{person.name} has no email, so the trailer cannot credit them"
    _, _, domain = email.rpartition("@")
    if "@" not in email or not domain:
        return f"{person.name}'s email {email!r} is not an address"
    if domain.casefold() in {"localhost", "localdomain"} or domain.endswith(".local"):
        return f"{person.name}'s email {email} is a local address GitHub cannot match"
    return None


def resolve(
    people: Iterable[Person], places: Iterable[Path]
) -> tuple[tuple[Person, ...], tuple[str, ...]]:
    """``people`` with emails corrected from the ``.git-coauthors`` files in ``places``, and a
    warning for each email that still cannot be matched."""
    fixed = corrected(people, known_emails(places))
    return fixed, tuple(problem for person in fixed if (problem := unusable(person)))
