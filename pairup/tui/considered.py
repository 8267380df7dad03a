"""The considered options and the decision drivers as the decision form takes them: one text
a person types in a few keystrokes, and back.

A line names an option; ``+ text`` under it is a pro of that option, ``- text`` a con;
``* Name`` names the option chosen. A name that itself starts with one of the marks is written
after a backslash (``\\+1 for speed``). Drivers are one a line. Blank lines are ignored.

Pure functions of strings, so the form's syntax is tested without a terminal. The limits are
the session's (``pairup.session.events``, which the first frame may not import); the session
would refuse the same, but the form says so on the line where it happens, before anything is
sent.

The form shows participants' text with its control characters as visible names, so the parsers
take a map from each item as the form showed it to the text it stands for: an item left as
shown reads back as it was typed, and limits and repeats are checked on that.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pairup.tui.shown import OptionRow

NAME_MAX = 200
"""Characters in an option's name, or in one driver."""
POINT_MAX = 2000
"""Characters in one pro or con."""
MOST = 20
"""Options, drivers, and pros or cons of one option."""
MARKS = "+-*\\"
SYNTAX = "a line per option · + a pro · - a con · * Name: the chosen one"


class Problem(ValueError):
    """What is wrong with the text, and on which line, in words the form shows as they are."""


@dataclass(frozen=True, slots=True)
class Considered:
    options: tuple[OptionRow, ...] = ()
    chosen: str = ""


def options_text(considered: Considered) -> str:
    """The text that :func:`parse_options` reads back as ``considered``."""
    lines: list[str] = []
    for option in considered.options:
        mark = "* " if option.name == considered.chosen else ""
        lines.append(mark + _escaped(option.name))
        lines.extend(f"+ {pro}" for pro in option.pros)
        lines.extend(f"- {con}" for con in option.cons)
    return "\n".join(lines)


def parse_options(
    text: str, names: Mapping[str, str] | None = None, points: Mapping[str, str] | None = None
) -> Considered:
    """The options ``text`` names, or :class:`Problem` saying what is wrong where. ``names``
    and ``points`` map an option's name and a pro or con as shown to the text it stands for."""
    names, points = names or {}, points or {}
    options: list[OptionRow] = []
    chosen = ""
    for number, line in _lines(text):
        mark = line[0]
        if mark in "+-":
            point = line[1:].strip()
            options[-1:] = [_point(options, mark, points.get(point, point), number)]
            continue
        picked = mark == "*"
        name = line[1:].strip() if picked else line
        name = name[1:] if name.startswith("\\") else name
        name = names.get(name, name)
        _check_name(name, options, number)
        if picked:
            if chosen:
                raise Problem(
                    f"line {number}: only one option is chosen (*), and {chosen} is already"
                )
            chosen = name
        options.append(OptionRow(name))
    return Considered(tuple(options), chosen)


def drivers_text(drivers: tuple[str, ...]) -> str:
    return "\n".join(drivers)


def parse_drivers(text: str, shown: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The drivers ``text`` lists, one a line, or :class:`Problem`; ``shown`` maps a driver as
    shown to the text it stands for."""
    shown = shown or {}
    drivers: list[str] = []
    for number, typed in _lines(text):
        line = shown.get(typed, typed)
        if len(line) > NAME_MAX:
            raise Problem(
                f"line {number}: a driver is at most {NAME_MAX} characters (this one has "
                f"{len(line)})"
            )
        if len(drivers) == MOST:
            raise Problem(f"line {number}: at most {MOST} drivers")
        drivers.append(line)
    return tuple(drivers)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line that says something, stripped, with its number as the form shows it."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line.strip()


def _escaped(name: str) -> str:
    return f"\\{name}" if name.startswith(tuple(MARKS)) else name


def _point(options: list[OptionRow], mark: str, point: str, number: int) -> OptionRow:
    """The option above with one more pro (``+``) or con (``-``)."""
    what = "pro (+)" if mark == "+" else "con (-)"
    if not options:
        raise Problem(f"line {number}: a {what} goes under the option it speaks of")
    if not point:
        raise Problem(f"line {number}: a {what} needs its words")
    if len(point) > POINT_MAX:
        raise Problem(f"line {number}: a {what} is at most {POINT_MAX} characters")
    option = options[-1]
    points = option.pros if mark == "+" else option.cons
    if len(points) == MOST:
        raise Problem(f"line {number}: at most {MOST} of them for {option.name}")
    if mark == "+":
        return OptionRow(option.name, (*option.pros, point), option.cons)
    return OptionRow(option.name, option.pros, (*option.cons, point))


def _check_name(name: str, options: list[OptionRow], number: int) -> None:
    if not name:
        raise Problem(f"line {number}: an option needs a name")
    if len(name) > NAME_MAX:
        raise Problem(
            f"line {number}: an option's name is at most {NAME_MAX} characters (this one has "
            f"{len(name)}); put the rest in a pro or a con"
        )
    if any(option.name == name for option in options):
        raise Problem(f"line {number}: {name} is named twice")
    if len(options) == MOST:
        raise Problem(f"line {number}: at most {MOST} options")
