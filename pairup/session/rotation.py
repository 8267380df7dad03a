"""Who drives next: the rotation order is the join order, reorderable, skipping absent people."""

from pairup.session.state import Member


def next_driver(members: tuple[Member, ...], driver: str | None) -> str | None:
    """The first present member after ``driver`` in rotation order, wrapping around.

    With no current driver (or one who is no longer a member) the first present member drives.
    A lone participant hands over to themselves.
    """
    ids = [member.id for member in members]
    start = ids.index(driver) + 1 if driver in ids else 0
    ordered = members[start:] + members[:start]
    return next((member.id for member in ordered if member.present), None)
