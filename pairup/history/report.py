"""``pairup stats`` written out: aligned tables and bars for a terminal, JSON for scripts,
Markdown tables and mermaid charts for a page.

Names are typed by people, so each output escapes them by its own rules: printable for the
terminal (ADR 21), :func:`pairup.adr.markdown.inline` in a Markdown table, and for a mermaid
label the name without what mermaid reads (:func:`mermaid_label`), since mermaid gives ``:``,
``"``, ``#``, ``;``, ``%`` and backticks meanings of their own and has no escape that works in
every renderer.
"""

import unicodedata
from collections.abc import Sequence
from typing import Any

from pairup.adr.markdown import inline, one_line
from pairup.history import describe
from pairup.history.stats import Stats
from pairup.history.text import bar, cells, cut, pad, shown, table

_NAME_CELLS = 24
_BAR_CELLS = (10, 40)
_CHARTED_WEEKS = 12
_MERMAID_READS = frozenset(':"`%#;<>')
"""What a pie label must not hold: ``"`` ends it, ``:`` separates its value, ``#…;`` is an
entity, ``%%`` a comment or directive, a backtick a Markdown string, and ``<`` and ``>`` make
HTML of a label in the renderers that draw labels as HTML."""
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
"""Controls, format characters (zero-width, bidirectional), halves of characters and line
breaks: what :func:`pairup.adr.markdown.one_line` leaves of them goes."""
_LABEL_LENGTH = 40


def _person(stats: Stats, key: str) -> str:
    return stats.names.get(key, key.partition(":")[2])


def _average(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.1f}" if values else "-"


def summary(stats: Stats) -> str:
    known = [figures.seconds for figures in stats.sessions if figures.seconds is not None]
    starts = [f.sitting.started for f in stats.sessions if f.sitting.started is not None]
    sessions = len(stats.sessions)
    said = f"{sessions} session{'' if sessions == 1 else 's'}, {describe.span(sum(known))} in all"
    if starts:
        said += f", from {describe.day(min(starts))} to {describe.day(max(starts))}"
    return said


# -- the terminal ------------------------------------------------------------------------------


def render_text(stats: Stats, width: int) -> str:
    if not stats.sessions:
        return "no sessions to count"
    parts = [summary(stats)]
    parts.append(_section("Who paired with whom", _pairs_table(stats, width)))
    parts.append(_section("Driving share per ISO week (UTC)", _driving_bars(stats, width)))
    parts.append(_section("Sessions", _sessions_table(stats, width)))
    parts.append(
        _section(
            "Knowledge spread: who changed each top-level directory in sessions",
            _spread_table(stats, width),
        )
    )
    return "\n\n".join(parts)


def _section(title: str, body: str) -> str:
    return f"{title}\n{body}"


def _pairs_table(stats: Stats, width: int) -> str:
    if not stats.pairs:
        return "  nobody was in a session with anyone else"
    rows = [
        (
            shown(_person(stats, pair.first)),
            shown(_person(stats, pair.second)),
            describe.span(pair.seconds),
            str(pair.sessions),
        )
        for pair in stats.pairs
    ]
    return table(("PERSON", "WITH", "TOGETHER", "SESSIONS"), rows, width=width, numeric=(2, 3))


def _driving_bars(stats: Stats, width: int) -> str:
    if not stats.weeks:
        return "  nobody drove"
    names = {
        key: cut(shown(_person(stats, key)), _NAME_CELLS)
        for seconds in stats.weeks.values()
        for key in seconds
    }
    label = max(cells(name) for name in names.values())
    low, high = _BAR_CELLS
    bar_cells = max(low, min(high, width - 8 - 2 - label - 2 - 5 - 2 - 8))
    lines = []
    for week, seconds in stats.weeks.items():
        shares = stats.shares(week)
        for index, key in enumerate(sorted(seconds, key=lambda k: (-seconds[k], names[k]))):
            share = shares.get(key, 0.0)
            lines.append(
                f"{week if index == 0 else '':<8}  {pad(names[key], label)}  "
                f"{bar(share, bar_cells)}  {share:>4.0%}  {describe.span(seconds[key])}"
            )
    return "\n".join(lines)


def _sessions_table(stats: Stats, width: int) -> str:
    header = ("STARTED", "SESSION", "LENGTH", "TURNS", "BREAKS", "DECISIONS", "LESSONS", "WHO")
    rows = [
        (
            describe.when(f.sitting.started),
            f.sitting.session_id,
            describe.span(f.seconds),
            str(f.turns),
            str(f.breaks),
            str(f.decisions),
            str(f.lessons),
            describe.participants(f.sitting),
        )
        for f in reversed(stats.sessions)
    ]
    averages = (
        "average",
        "",
        describe.span(_mean([f.seconds for f in stats.sessions if f.seconds is not None])),
        _average([f.turns for f in stats.sessions]),
        _average([f.breaks for f in stats.sessions]),
        _average([f.decisions for f in stats.sessions]),
        _average([f.lessons for f in stats.sessions]),
        "",
    )
    return table(header, [*rows, averages], width=width, numeric=(2, 3, 4, 5, 6))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _spread_table(stats: Stats, width: int) -> str:
    if not stats.spread:
        return "  no commit made in a session is in this repository"
    rows = [
        (
            shown(item.directory),
            str(len(item.people)),
            ", ".join(shown(_person(stats, key)) for key in item.people),
        )
        for item in stats.spread
    ]
    return table(("DIRECTORY", "PEOPLE", "WHO"), rows, width=width, numeric=(1,))


# -- JSON --------------------------------------------------------------------------------------


def to_json(stats: Stats) -> dict[str, Any]:
    """Every figure for scripts: people by name and email, times in seconds and UTC."""
    return {
        "sessions": [
            {
                **describe.session_json(f.sitting),
                "here": f.sitting.here,
                "turns": f.turns,
                "breaks": f.breaks,
                "decisions": f.decisions,
                "lessons": f.lessons,
                "commits": f.commits,
            }
            for f in stats.sessions
        ],
        "pairs": [
            {
                "people": [_person_json(stats, pair.first), _person_json(stats, pair.second)],
                "seconds": pair.seconds,
                "sessions": pair.sessions,
            }
            for pair in stats.pairs
        ],
        "driving": [
            {
                "week": week,
                "people": [
                    {
                        **_person_json(stats, key),
                        "seconds": value,
                        "share": stats.shares(week).get(key, 0.0),
                    }
                    for key, value in sorted(seconds.items())
                ],
            }
            for week, seconds in stats.weeks.items()
        ],
        "knowledge": [
            {
                "directory": item.directory,
                "people": [_person_json(stats, key) for key in item.people],
            }
            for item in stats.spread
        ],
    }


def _person_json(stats: Stats, key: str) -> dict[str, str]:
    kind, _, value = key.partition(":")
    return {"name": _person(stats, key), "email": value if kind == "email" else ""}


# -- Markdown ----------------------------------------------------------------------------------


def render_markdown(stats: Stats) -> str:
    """Tables for what is read row by row, a mermaid pie per week for the driving shares."""
    lines = ["# Pairing stats", "", inline(summary(stats)), ""]
    lines += ["## Who paired with whom", ""]
    lines += _markdown_table(
        ("Person", "With", "Together", "Sessions"),
        [
            (
                inline(_person(stats, p.first)),
                inline(_person(stats, p.second)),
                describe.span(p.seconds),
                str(p.sessions),
            )
            for p in stats.pairs
        ],
        right=(2, 3),
    )
    lines += ["## Driving share per ISO week (UTC)", ""]
    driving_rows = []
    for week, seconds in stats.weeks.items():
        shares = stats.shares(week)
        for key in sorted(seconds, key=lambda k: -seconds[k]):
            driving_rows.append(
                (
                    week,
                    inline(_person(stats, key)),
                    describe.span(seconds[key]),
                    f"{shares.get(key, 0.0):.0%}",
                )
            )
    lines += _markdown_table(("Week", "Person", "Driving", "Share"), driving_rows, right=(2, 3))
    charted = list(stats.weeks)[-_CHARTED_WEEKS:]
    if charted:
        if len(charted) < len(stats.weeks):
            lines += [f"The latest {len(charted)} weeks:", ""]
        for week in charted:
            lines += _pie(stats, week)
    lines += ["## Sessions", ""]
    lines += _markdown_table(
        ("Started", "Session", "Length", "Turns", "Breaks", "Decisions", "Lessons", "Who"),
        [
            (
                describe.when(f.sitting.started),
                f"`{f.sitting.session_id}`",
                describe.span(f.seconds),
                str(f.turns),
                str(f.breaks),
                str(f.decisions),
                str(f.lessons),
                ", ".join(inline(m.name) for m in f.sitting.members),
            )
            for f in reversed(stats.sessions)
        ],
        right=(2, 3, 4, 5, 6),
    )
    lines += ["## Knowledge spread", ""]
    lines += _markdown_table(
        ("Directory", "People", "Who"),
        [
            (
                inline(item.directory),
                str(len(item.people)),
                ", ".join(inline(_person(stats, key)) for key in item.people),
            )
            for item in stats.spread
        ],
        right=(1,),
    )
    return "\n".join(lines).rstrip() + "\n"


def _markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> list[str]:
    if not rows:
        return ["_None._", ""]
    rule = ["---:" if i in right else "---" for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def _pie(stats: Stats, week: str) -> list[str]:
    seconds = stats.weeks[week]
    if sum(seconds.values()) <= 0:
        return []
    slices = [
        f'    "{mermaid_label(_person(stats, key), index)}" : {value / 60:.1f}'
        for index, (key, value) in enumerate(sorted(seconds.items(), key=lambda kv: -kv[1]), 1)
    ]
    return ["```mermaid", f"pie title Driving minutes in {week}", *slices, "```", ""]


def mermaid_label(text: str, number: int) -> str:
    """``text`` as a mermaid label on one line, at most 40 characters; a name with nothing left
    becomes "person N".

    Only what mermaid reads is taken out (a space stands for it), and controls show as
    :func:`~pairup.adr.markdown.one_line` shows them everywhere in the Markdown; everything
    else people write in a name stays. The text is composed first (NFC), so a name typed as
    ``n`` and a combining accent is the ``ń`` a precomposed one is, and a mark with no
    precomposed form stays with its letter.
    """
    kept = "".join(map(_label_char, unicodedata.normalize("NFC", one_line(text))))
    label = " ".join(kept.split())[:_LABEL_LENGTH].strip()
    return label or f"person {number}"


def _label_char(char: str) -> str:
    if char in _MERMAID_READS:
        return " "
    return "" if unicodedata.category(char) in _INVISIBLE else char
