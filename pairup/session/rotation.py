"""Who drives next: the rotation order is the join order, reorderable, skipping absent people."""

from pairup.session.state import Member


def next_driver(members: tuple[Member, ...], driver: str | None) -> str | None:
    """The first present member after ``driver`` in rotation order, wrapping around.

    With no current driver (or one who is no longer a member) the first present member drives.
    A lone participant hands over to themselves; with nobody present there is no driver.
    """
    start = 0
    for index, member in enumerate(members):
        if member.id == driver:
            start = index + 1
            break
    count = len(members)
    for offset in range(count):
        member = members[(start + offset) % count]
        if member.present:
            return member.id
    return None
