"""Who drives next: the rotation order is the join order, reorderable, skipping whoever is
not here (gone, or away)."""

from pairup.session.state import Member


def next_driver(members: tuple[Member, ...], driver: str | None) -> str | None:
    """The first member here after ``driver`` in rotation order, wrapping around.

    With no current driver (or one who is no longer a member) the first member here drives.
    A lone participant hands over to themselves; with nobody here there is no driver.
    """
    start = 0
    for index, member in enumerate(members):
        if member.id == driver:
            start = index + 1
            break
    count = len(members)
    for offset in range(count):
        member = members[(start + offset) % count]
        if member.here:
            return member.id
    return None
