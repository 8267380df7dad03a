"""One person across sessions.

A participant id is made for each session, so the same person has a new one every time; what
stays is how they name themselves. A person is their email, compared without case, or their
name where they gave no email: the name they used last is the one shown.
"""

from collections.abc import Iterable

from pairup.history.facts import Credit, Member, Sitting


def person_key(name: str, email: str) -> str:
    return f"email:{email.casefold()}" if email else f"name:{name.casefold()}"


def member_key(member: Member) -> str:
    return person_key(member.name, member.email)


def credit_key(sitting: Sitting, credit: Credit) -> str:
    """Whom a commit's author or co-author is among the session's members (by email, else by
    name, as the session credits co-authors), or the person the credit names."""
    email = credit.email.casefold()
    for member in sitting.members:
        if email and member.email.casefold() == email:
            return member_key(member)
    for member in sitting.members:
        if member.name == credit.name:
            return member_key(member)
    return person_key(credit.name, credit.email)


def names(sittings: Iterable[Sitting]) -> dict[str, str]:
    """Each person's key and the name they used last (``sittings`` oldest first); commit
    credits name people the session did not, so those come in too."""
    found: dict[str, str] = {}
    for sitting in sittings:
        for commit in sitting.commits:
            for credit in (commit.author, *commit.co_authors):
                found.setdefault(credit_key(sitting, credit), credit.name)
        for member in sitting.members:
            found[member_key(member)] = member.name
    return found


def matches(sitting: Sitting, who: str) -> bool:
    """Whether someone in ``sitting`` is ``who``: their whole name or email, in any case."""
    wanted = who.casefold().strip()
    return any(
        wanted in (member.name.casefold(), member.email.casefold()) for member in sitting.members
    )
