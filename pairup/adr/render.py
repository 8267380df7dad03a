"""Draft ADRs, the session record and the event log of a session, rendered as text.

Exporting writes files, asks git and talks to people; this module only turns a folded session
into strings. Kept pure (no files, no clock), every format can be pinned with golden files built
on a fake clock, and the same log always exports byte for byte the same documents. Times come
from the log, which carries the relay's clock, or from the caller's ``now``, and are written in
UTC so that two people exporting the same session in different time zones get the same files.
A log may hold impossible times (a broken clock, an old or replayed journal): each goes through
:mod:`pairup.moment`, so it is written as unknown and left out of the chart, and a length
beyond belief is written as "over" its cap.

Every string a participant typed reaches the Markdown through :func:`~pairup.adr.markdown.inline`
or :func:`~pairup.adr.markdown.block`, so none of it becomes structure; MADR's front matter is
YAML and quotes instead, and the gantt chart has rules of its own (:func:`gantt`). In all of
them a control character is written by its visible name (``␛``, ``⟨RLO⟩``), as every screen
shows it (ADR 21). The JSON log keeps the text exact instead, with such characters as JSON
escapes: no file pairup writes carries one raw.
"""

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote

from pairup import moment
from pairup.adr import lifecycle
from pairup.adr.lifecycle import Ref
from pairup.adr.markdown import block, inline, one_line
from pairup.printable import printable
from pairup.session import Event, State, encode_event
from pairup.session.events import ConsideredOption
from pairup.session.state import CommitRecord, Decision, Extension, Interlude, Pause
from pairup.session.timer import driving_times, stints_until

FORMATS = ("adr", "madr", "log4brains")
"""adr-tools (Nygard's sections), MADR 4.0 and log4brains' own template."""

PLACEHOLDER = "_To be written._"
"""Stands in for an empty section: a heading over nothing reads as a rendering bug."""

_SLUG_MAX = 60
_SLUG_FALLBACK = "decision"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Windows refuses these as file names whatever the extension, so a bare `con.md` cannot exist.
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)}
)

# Mermaid's gantt lexer ends a task name at ':', '#' and ';', and starts a comment at '%'; a
# backtick is left out too, so no label can look like the end of the chart's code fence.
_GANTT_UNSAFE = re.compile(r"[:#;%`]")
# Its lexer also tries keywords before task text, case-insensitively, at the start of a line: a
# driver called "Title" or "Section Lead" would become a title or a section, not a task.
_GANTT_KEYWORD = re.compile(
    r"(gantt|inclusiveenddates|topaxis"
    r"|(dateformat|axisformat|tickinterval|includes|excludes|todaymarker|weekday|weekend"
    r"|datemarker|title"
    r"|accdescription|section|click|call|href)\s"
    r"|acctitle\s*:|accdescr\s*[:{]|\d{4}-\d\d-\d\d)",
    re.IGNORECASE,
)

# The characters PyYAML reads raw inside a double-quoted scalar (YAML 1.1's printable set, less
# the line breaks NEL, LS and PS, which it would fold, and the byte order mark). Controls never
# reach it: they are named first (printable).
_YAML_RAW = re.compile(
    r"[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_YAML_NAMED_ESCAPES = {"\\": "\\\\", '"': '\\"', "\xa0": "\\_"}
# What the JSON log writes as escapes rather than raw: every character a screen would name
# (json escapes C0 itself; DEL, C1, bidirectional controls and the line and paragraph
# separators are left to this table).
_JSON_ESCAPED = {
    code: f"\\u{code:04x}"
    for code in (*range(0x7F, 0xA0), 0x061C, *range(0x2000, 0x2070))
    if printable(chr(code)) != chr(code)
}

_LESSON_PROMPTS = (
    "What do we know now that we did not know when we started?",
    "What slowed us down, and what would we do differently next time?",
    "Which decision should we revisit, and when?",
    "Did everyone get a fair share of the keyboard?",
)


def slug(title: str) -> str:
    """A file-name stem for ``title``, stable across releases and safe on every OS.

    Case-folded and NFKD-normalised so accents fall away ("Crème" gives "creme"), then only ASCII
    letters and digits are kept and every run of anything else becomes one '-'. It is cut to
    at most 60 characters, at a '-' when there is one, so long titles keep whole words. A title
    with nothing left (Japanese, emoji only, punctuation) gives "decision": the caller's number
    prefix keeps such files apart.
    """
    folded = unicodedata.normalize("NFKD", title.casefold())
    text = _NOT_SLUG.sub("-", folded.encode("ascii", "ignore").decode("ascii").lower()).strip("-")
    if len(text) > _SLUG_MAX:
        cut = text[:_SLUG_MAX]
        if text[_SLUG_MAX] != "-" and "-" in cut:
            cut = cut[: cut.rindex("-")]
        text = cut.strip("-")
    if not text:
        return _SLUG_FALLBACK
    if text in _WINDOWS_DEVICES:
        return f"{text}-{_SLUG_FALLBACK}"
    return text


class Attendee(NamedTuple):
    """A participant as the documents name them: the id decisions refer to, and the name."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What every exported document says about the session it came from."""

    session_id: str
    participants: tuple[Attendee, ...]
    """Everyone, in rotation order, including anyone who left before the end."""
    date: str
    """The day the session started, ``YYYY-MM-DD`` in UTC, or "unknown date"."""

    @property
    def file_date(self) -> str:
        """:attr:`date` as it starts a file name: "undated" when it is not known."""
        return "undated" if self.date == moment.UNKNOWN_DATE else self.date


def facts(state: State, session_id: str) -> SessionFacts:
    """The provenance of ``state``'s documents; a session with no events has none to give."""
    if state.opened_at is None:
        raise ValueError("a session with no events has no date to export")
    people = tuple(Attendee(member.id, _name(state, member.id)) for member in state.members)
    return SessionFacts(session_id, people, _day(state.opened_at))


@dataclass(frozen=True, slots=True)
class Links:
    """The ADRs a decision's supersede links name. Their numbers and file names are settled
    only when the export places every file, so the export passes them in."""

    superseded_by: Ref | None = None
    supersedes: tuple[Ref, ...] = ()


def decision_links(
    state: State, fmt: str, placed: Mapping[str, tuple[int, str]]
) -> dict[str, Links]:
    """Each decision's :class:`Links`, from where the export put every ADR: ``placed`` maps a
    decision id to its number and file name (all in one folder). A link to a decision that
    has no file is left out."""

    def ref(decision_id: str) -> Ref | None:
        decision = state.decisions.get(decision_id)
        where = placed.get(decision_id)
        if decision is None or where is None:
            return None
        number, name = where
        stem = name.removesuffix(".md")
        return Ref(number, _title(decision), quote(name), stem)

    links = {}
    for decision in state.decisions_in_order():
        by = ref(decision.superseded_by) if decision.superseded_by else None
        supersedes = tuple(r for old in decision.supersedes if (r := ref(old)) is not None)
        links[decision.id] = Links(by, supersedes)
    return links


def render_decision(
    fmt: str,
    decision: Decision,
    number: int,
    facts: SessionFacts,
    *,
    commits: Sequence[CommitRecord],
    in_this_repository: Set[str] | None = None,
    links: Links | None = None,
) -> str:
    """``decision`` as a draft ADR in ``fmt``, numbered ``number`` in the target repository.

    Each format follows its tool's own template closely enough for that tool to read it back
    (adr-tools' ``# N. Title`` line, MADR's front matter, log4brains' metadata bullets), with
    MADR's drivers, considered options and their pros and cons, and the opinions given. Every
    draft also says which session it came from, who took the decision and which of the
    session's ``commits`` followed it, so a reviewer can trace the decision to code; a commit
    whose sha is not in ``in_this_repository`` (when given) is said to be made in another
    clone. Supersede ``links`` are written by :mod:`pairup.adr.lifecycle`, the code behind
    ``pairup adr supersede``, so a decision superseded in the session reads as one superseded
    afterwards. The caller adds the marker line (:func:`pairup.adr.marker.seal`).
    """
    render = _DECISION_RENDERERS.get(fmt)
    if render is None:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    body, notes_heading = render(decision, number, facts)
    notes = _provenance(decision, facts, commits, in_this_repository)
    opinions = _opinions(decision, facts)
    text = "\n".join([*body, "", notes_heading, "", *opinions, *notes]) + "\n"
    shape = lifecycle_format(fmt)
    if links is not None and links.superseded_by is not None:
        text = lifecycle.supersede(text, shape, links.superseded_by)
    for old in links.supersedes if links is not None else ():
        text = lifecycle.add_link(text, shape, lifecycle.SUPERSEDES, old)
    return text


def lifecycle_format(fmt: str) -> lifecycle.Format:
    """``fmt`` as :mod:`pairup.adr.lifecycle` names it."""
    if fmt == "madr":
        return "madr"
    if fmt == "log4brains":
        return "log4brains"
    return "adr"


def render_record(
    state: State,
    facts: SessionFacts,
    adr_links: Mapping[str, Sequence[str]],
    now: float,
    *,
    in_this_repository: Set[str] | None = None,
) -> str:
    """The session record in markdown: who paired, when, who drove, what was decided and done.

    ``adr_links`` maps a decision id to the relative paths of its exported ADRs (one a format
    it was exported in); a decision without any is listed as not exported. ``now`` stands in
    for the end of a session still running. A commit whose sha is not in
    ``in_this_repository`` (when given) is said to be made in another clone. The caller adds
    the marker line.
    """
    end = state.ended_at if state.ended_at is not None else now
    title = inline(state.title) or f"pairing session of {facts.date}"
    lines = [
        f"# Session record: {title}",
        "",
        f"- Session: {_code(facts.session_id)}",
        f"- Participants: {_and_list(inline(person.name) for person in facts.participants)}",
        f"- Started: {_minute(state.opened_at if state.opened_at is not None else end)}",
        (
            f"- Ended: {_minute(end)}"
            if state.ended_at is not None
            else f"- Ended: not yet; this record was written at {_minute(end)}"
        ),
        f"- Turn length: {duration(state.settings.turn_seconds)}",
        "",
        "## Timeline",
        "",
        "```mermaid",
        gantt(state, now),
        "```",
        *_interruptions(state, now, facts.date),
        "",
        "## Driving time",
        "",
        *_driving(state, end),
        "",
        "## Decisions",
        "",
        *_decision_rows(state, adr_links),
        "",
        "## Commits",
        "",
        *_commit_rows(state, in_this_repository),
        *_handover_rows(state),
        "",
        "## Lessons learned",
        "",
        *_lessons(state),
    ]
    return "\n".join(lines) + "\n"


def gantt(state: State, now: float) -> str:
    """The body of a mermaid gantt chart of the turns (who drove when), the breaks and pauses.

    Times are written as UTC clock times (``dateFormat YYYY-MM-DD HH:mm:ss``), readable in the
    source like every other time in the record. Mermaid reads them in the viewer's time zone
    and draws the axis in it too, so the axis shows the same UTC clock whoever looks. A stint,
    break or pause still open runs to ``now``; one shorter than a second has nothing to draw
    and is left out, since mermaid wants every task to end after it starts.
    """
    turns = [
        (_task_label(_name(state, stint.driver), stint.driver, stint.turn), *span)
        for stint in stints_until(state, now)
        if (span := _span(stint.start, stint.end))
    ]
    breaks = [
        span for interlude in _breaks(state, now) if (span := _span(interlude.start, interlude.end))
    ]
    pauses = [
        (_pause_label(state, pause), *span)
        for pause in _pauses(state, now)
        if (span := _span(pause.start, pause.end))
    ]
    lines = [
        "gantt",
        "    title Turns, breaks and pauses (UTC)",
        "    dateFormat YYYY-MM-DD HH:mm:ss",
        "    axisFormat %H:%M",
        "    section Turns",
    ]
    lines.extend(
        f"    {label} :t{index}, {_chart_time(start)}, {_chart_time(end)}"
        for index, (label, start, end) in enumerate(turns, start=1)
    )
    if breaks:
        lines.append("    section Breaks")
        lines.extend(
            f"    Break :b{index}, {_chart_time(start)}, {_chart_time(end)}"
            for index, (start, end) in enumerate(breaks, start=1)
        )
    if pauses:
        lines.append("    section Pauses")
        lines.extend(
            f"    {label} :p{index}, {_chart_time(start)}, {_chart_time(end)}"
            for index, (label, start, end) in enumerate(pauses, start=1)
        )
    return "\n".join(lines)


def render_json(events: Sequence[Event], *, with_parts: bool = False) -> str:
    """The event log as one JSON document, for tools that want the raw facts.

    Each event is written as the journal and the wire carry it (``encode_event``), so the export
    can be folded again; keys are sorted so the same log gives the same bytes. Text stays
    readable (no ASCII escapes for letters), but every control character is a JSON escape, so
    the file holds none raw and still reads back as exactly what was typed.

    ``handover.part`` events are left out (unless ``with_parts``, how pairup wrote the log
    before): they carry a handover's package, megabytes of base64 of what git holds anyway,
    and the log goes into the repository beside the session record. The handover's offer,
    and whether it was applied or refused, stay.
    """
    kept = events if with_parts else logged_events(events)
    document = {"events": [json.loads(encode_event(event)) for event in kept]}
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    return text.translate(_JSON_ESCAPED) + "\n"


def logged_events(events: Sequence[Event]) -> list[Event]:
    """The events :func:`render_json` writes: all but the handover packages' parts."""
    return [event for event in events if event.kind != "handover.part"]


def duration(seconds: float) -> str:
    """A length of time as people say it: ``45 s``, ``1 min 30 s``, ``15 min``, ``2 h 05 min``.

    Rounded to whole seconds; a unit at zero after a larger one is left out (``15 min``, not
    ``15 min 00 s``), and smaller units after a larger one take two digits, as on a clock.
    Never negative; past :data:`pairup.moment.LONGEST`, "over" that.
    """
    length, over = moment.capped(seconds)
    total = math.floor(length + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        parts = [f"{hours} h"]
        if minutes or secs:
            parts.append(f"{minutes:02d} min")
        if secs:
            parts.append(f"{secs:02d} s")
    elif minutes:
        parts = [f"{minutes} min"] + ([f"{secs:02d} s"] if secs else [])
    else:
        parts = [f"{secs} s"]
    return ("over " if over else "") + " ".join(parts)


def _length(start: float, end: float) -> str:
    """The :func:`duration` from ``start`` to ``end``, unless either time is impossible."""
    seconds = moment.between(start, end)
    return moment.UNKNOWN_LENGTH if seconds is None else duration(seconds)


def _deciders(decision: Decision, facts: SessionFacts) -> tuple[list[str], list[str]]:
    """MADR's ``decision-makers`` (the proposer, then whoever agreed, in rotation order) and
    ``consulted`` (everyone else who took part, in rotation order)."""
    agreed = set(decision.agreed) - {decision.proposed_by}
    makers = [decision.proposed_by] + [
        ident for ident in _in_rotation(facts, decision.agreed) if ident in agreed
    ]
    consulted = [i for i in _in_rotation(facts, decision.present) if i not in makers]
    return [_named(i, facts) for i in makers], [_named(i, facts) for i in consulted]


def _in_rotation(facts: SessionFacts, ids: Sequence[str]) -> list[str]:
    """``ids`` in rotation order, then any the session does not know, as they came."""
    known = [person.id for person in facts.participants if person.id in ids]
    return known + [ident for ident in ids if ident not in known]


def _named(participant_id: str, facts: SessionFacts) -> str:
    """A participant's name; an id the session does not know (a log cut short) as it is."""
    return next((p.name for p in facts.participants if p.id == participant_id), participant_id)


def _decision_makers(decision: Decision, facts: SessionFacts) -> list[str]:
    """Who took ``decision``: those present for it (``Decision.present``), in rotation order.

    Someone away or gone when it was recorded, and who never amended it, did not take part.
    An id the session does not know (a log cut short) is named as it is.
    """
    known = [person.name for person in facts.participants if person.id in decision.present]
    roster = {person.id for person in facts.participants}
    return known + [ident for ident in decision.present if ident not in roster]


def _adr(decision: Decision, number: int, facts: SessionFacts) -> tuple[list[str], str]:
    """adr-tools' template; ``adr list`` and ``adr generate toc`` read the first line as is."""
    return [
        f"# {number}. {_title(decision)}",
        "",
        f"Date: {_decided_on(decision)}",
        "",
        "## Status",
        "",
        decision.status.capitalize(),
        "",
        "## Context",
        "",
        *_paragraphs(
            block(decision.context),
            *_listed("Decision drivers:", [inline(d) for d in decision.drivers], "-"),
            *_listed("Considered options:", _options_nested(decision), "-"),
        ),
        "",
        "## Decision",
        "",
        _outcome(decision),
        "",
        "## Consequences",
        "",
        _body(decision.consequences),
    ], "## Notes"


def _madr(decision: Decision, number: int, facts: SessionFacts) -> tuple[list[str], str]:
    """MADR 4.0: its front matter keys and its section headings.

    The date is left unquoted, as in MADR's template, so YAML readers see a date.
    """
    makers, consulted = _deciders(decision, facts)
    return [
        "---",
        f"status: {decision.status}",
        f"date: {_decided_on(decision)}",
        *_yaml_list("decision-makers", makers, empty=True),
        *_yaml_list("consulted", consulted, empty=False),
        "---",
        "",
        f"# {_title(decision)}",
        "",
        *_madr_sections(decision, "*"),
    ], "## More Information"


def _log4brains(decision: Decision, number: int, facts: SessionFacts) -> tuple[list[str], str]:
    """log4brains' template: metadata bullets in its order (Status, Deciders, Date).

    log4brains splits Deciders at commas, so a comma inside a name is dropped there.
    """
    deciders = [inline(name.replace(",", " ")) for name in _decision_makers(decision, facts)]
    return [
        f"# {_title(decision)}",
        "",
        f"- Status: {decision.status}",
        *([f"- Deciders: {', '.join(deciders)}"] if deciders else []),
        f"- Date: {_decided_on(decision)}",
        "",
        *_madr_sections(decision, "-"),
    ], "## More Information"


def _madr_sections(decision: Decision, bullet: str) -> list[str]:
    """MADR 4's headings and wording, which log4brains' template shares (with ``-`` bullets
    where MADR has ``*``); drivers, options and their pros and cons only when there are some."""
    lines = ["## Context and Problem Statement", "", _body(decision.context)]
    if decision.drivers:
        lines += ["", "## Decision Drivers", ""]
        lines += [f"{bullet} {inline(driver)}" for driver in decision.drivers]
    if decision.options:
        lines += ["", "## Considered Options", ""]
        lines += [f"{bullet} {inline(option.name)}" for option in decision.options]
    lines += ["", "## Decision Outcome", "", _outcome(decision)]
    lines += ["", "### Consequences", "", _body(decision.consequences)]
    weighed = [option for option in decision.options if option.pros or option.cons]
    if weighed:
        lines += ["", "## Pros and Cons of the Options"]
        for option in weighed:
            lines += ["", f"### {inline(option.name)}", "", *_pros_and_cons(option, bullet)]
    return lines


def _outcome(decision: Decision) -> str:
    """MADR's ``Chosen option: "NAME", because …`` when an option was chosen, with the
    decision's text as the reason; the decision's text alone otherwise."""
    reason = block(decision.decision)
    if not decision.chosen:
        return reason or PLACEHOLDER
    chosen = f'Chosen option: "{inline(decision.chosen)}"'
    return f"{chosen}, because {reason}" if reason else f"{chosen}."


def _pros_and_cons(option: ConsideredOption, bullet: str) -> list[str]:
    return [f"{bullet} Good, because {inline(pro)}" for pro in option.pros] + [
        f"{bullet} Bad, because {inline(con)}" for con in option.cons
    ]


def _options_nested(decision: Decision) -> list[str]:
    """The options as adr-tools' template holds them: text in its sections, each option a
    list item with its pros and cons under it, no heading of their own."""
    items = []
    for option in decision.options:
        items.append(inline(option.name))
        items += [f"  {line}" for line in _pros_and_cons(option, "-")]
    return items


def _listed(caption: str, items: Sequence[str], bullet: str) -> list[str]:
    """A caption line and a list, as one paragraph of text each; nothing when empty. Items
    already indented (nested) keep their indentation and bring their own bullet."""
    if not items:
        return []
    shown = [item if item.startswith(" ") else f"{bullet} {item}" for item in items]
    return [caption, "\n".join(shown)]


def _paragraphs(*parts: str) -> list[str]:
    """The non-empty ``parts`` as paragraphs; the placeholder when all are empty."""
    present = [part for part in parts if part]
    if not present:
        return [PLACEHOLDER]
    return "\n\n".join(present).split("\n")


def _opinions(decision: Decision, facts: SessionFacts) -> list[str]:
    """Who agreed with the decision and who objected, with why, in the order they said so;
    nothing when nobody did. Objections are what MADR's "More Information" is asked for."""
    if not decision.opinions:
        return []
    lines = ["Opinions given in the session:", ""]
    for opinion in decision.opinions:
        said = "agreed" if opinion.stance == "agree" else "objected"
        why = f": {inline(opinion.why)}" if opinion.why.strip() else ""
        lines.append(f"- {inline(_named(opinion.participant, facts))} {said}{why}")
    return [*lines, ""]


def _yaml_list(key: str, names: Sequence[str], *, empty: bool) -> list[str]:
    """A YAML block list of names, each quoted; ``key: []`` when there are none and
    ``empty``, else no key at all."""
    if not names:
        return [f"{key}: []"] if empty else []
    return [f"{key}:", *(f"  - {_yaml_string(name)}" for name in names)]


_DECISION_RENDERERS: dict[str, Callable[[Decision, int, SessionFacts], tuple[list[str], str]]] = {
    "adr": _adr,
    "madr": _madr,
    "log4brains": _log4brains,
}


def _provenance(
    decision: Decision,
    facts: SessionFacts,
    commits: Sequence[CommitRecord],
    in_this_repository: Set[str] | None,
) -> list[str]:
    names = [inline(name) for name in _decision_makers(decision, facts)]
    who = f" by {_and_list(names)}" if names else ""
    lines = [
        f"Drafted with pairup in a pairing session on {facts.date}{who} "
        f"(session {_code(facts.session_id)}), during turn {decision.turn}.",
        "",
    ]
    if not commits:
        return [*lines, "No commits were made in the session after this decision."]
    lines += ["Commits made in the session after this decision:", ""]
    for commit in commits:
        co_authors = [inline(person.name) for person in commit.co_authors]
        credit = f" (with {', '.join(co_authors)})" if co_authors else ""
        where = _elsewhere(commit, in_this_repository)
        lines.append(f"- `{commit.sha[:7]}` {_subject(commit)}{credit}{where}")
    return lines


def _elsewhere(commit: CommitRecord, in_this_repository: Set[str] | None) -> str:
    """A note for a commit made in a partner's clone that this repository does not hold (yet):
    a reader who looks it up here would otherwise think the document wrong."""
    if in_this_repository is None or commit.sha in in_this_repository:
        return ""
    return " (made in another clone; not in this repository)"


def _interruptions(state: State, now: float, day: str) -> list[str]:
    """The pauses and the time added to turns, in time order, as lines under the chart."""
    happenings: list[tuple[float, str]] = []
    for pause in _pauses(state, now):
        why = f": {inline(_name(state, pause.away))} away" if pause.away is not None else ""
        happenings.append(
            (
                pause.start,
                f"- {_clock(pause.start, day)} to {_clock(pause.end, day)} UTC: turn "
                f"{pause.turn} paused{why} ({_length(pause.start, pause.end)})",
            )
        )
    for extension in state.extensions_in_order():
        happenings.append((extension.at, _extension_line(state, extension, day)))
    if not happenings:
        return []
    return ["", *(line for _, line in sorted(happenings, key=lambda item: item[0]))]


def _extension_line(state: State, extension: Extension, day: str) -> str:
    return (
        f"- {_clock(extension.at, day)} UTC: {inline(_name(state, extension.by))} added "
        f"{duration(extension.seconds)} to turn {extension.turn}"
    )


def _driving(state: State, end: float) -> list[str]:
    seconds = driving_times(state, end)
    if not seconds:
        return ["_Nobody joined the session._"]
    total = sum(seconds.values())
    # Impossible times in the log can make a total no share can be taken of.
    shares = math.isfinite(total) and total > 0
    rows = ["| Participant | Driving time | Share |", "| --- | ---: | ---: |"]
    for member in state.members:
        driven = seconds[member.id]
        share = f"{driven / total:.1%}" if shares else "n/a"
        rows.append(f"| {inline(_name(state, member.id))} | {duration(driven)} | {share} |")
    spread = max(seconds.values()) - min(seconds.values())
    even = total / len(seconds)
    return [
        *rows,
        "",
        f"Spread between the most and the least time at the keyboard: {duration(spread)} "
        f"(an even share would be {duration(even)} each).",
    ]


def _decision_rows(state: State, adr_links: Mapping[str, Sequence[str]]) -> list[str]:
    decisions = state.decisions_in_order()
    if not decisions:
        return ["_No decisions were recorded._"]
    rows = ["| # | Decision | Status | ADR |", "| ---: | --- | --- | --- |"]
    for decision in decisions:
        paths = adr_links.get(decision.id, ())
        links = ", ".join(f"[{inline(path)}]({quote(path)})" for path in paths)
        by = state.decisions.get(decision.superseded_by) if decision.superseded_by else None
        status = f"superseded by {by.number}" if by is not None else decision.status
        rows.append(
            f"| {decision.number} | {_title(decision)} | {status} | {links or 'not exported'} |"
        )
    return rows


def _commit_rows(state: State, in_this_repository: Set[str] | None) -> list[str]:
    commits = state.commits_in_order()
    if not commits:
        return ["_No commits were recorded._"]
    rows = ["| Commit | Subject | Author | Co-authors |", "| --- | --- | --- | --- |"]
    for commit in commits:
        co_authors = ", ".join(inline(person.name) for person in commit.co_authors)
        subject = _subject(commit) + _elsewhere(commit, in_this_repository)
        rows.append(
            f"| `{commit.sha[:7]}` | {subject} | {inline(commit.author.name)} "
            f"| {co_authors or 'none'} |"
        )
    return rows


def _handover_rows(state: State) -> list[str]:
    """How the code moved at each rotation; nothing in a session that handed nothing over."""
    handovers = state.handovers_in_order()
    if not handovers:
        return []
    rows = [
        "",
        "## Handovers",
        "",
        "| Turn | From | To | Moved | Outcome |",
        "| --- | --- | --- | --- | --- |",
    ]
    for handover in handovers:
        to = inline(_name(state, handover.to)) if handover.to else "nobody"
        if handover.outcome == "refused" and not handover.snapshot:
            moved = "nothing sent"
        else:
            moved = (
                f"{handover.files} files, +{handover.insertions} -{handover.deletions}, "
                f"{handover.commits} commits"
            )
            if handover.last_file:
                moved += f"; last touched {inline(handover.last_file)}, line {handover.last_line}"
        outcome = {"offered": "not taken", "applied": "applied"}.get(handover.outcome, "refused")
        if handover.outcome == "refused":
            outcome += f": {inline(handover.reason)}"
        elif handover.saved:
            outcome += f"; the receiver's own work kept at {inline(handover.saved)}"
        rows.append(
            f"| {handover.turn} | {inline(_name(state, handover.by))} | {to} | {moved} "
            f"| {outcome} |"
        )
    return rows


def _lessons(state: State) -> list[str]:
    """The lessons as bullets; with none, questions that invite the team to write some."""
    lessons = state.lessons_in_order()
    if not lessons:
        return [
            "_No lessons were noted during the session. Some questions to answer together:_",
            "",
            *(f"- {prompt}" for prompt in _LESSON_PROMPTS),
        ]
    bullets = []
    for lesson in lessons:
        # Lines after the first are indented to stay in the bullet; blank ones stay empty.
        first, *rest = _body(lesson.text).split("\n")
        text = "\n".join([first, *(f"  {line}" if line else "" for line in rest)])
        bullets.append(f"- {text} _({inline(_name(state, lesson.by))}, turn {lesson.turn})_")
    return bullets


def _breaks(state: State, now: float) -> list[Interlude]:
    """The breaks taken, and the one still going on up to ``now``."""
    breaks = state.break_timeline()
    if state.phase == "break" and state.phase_started_at is not None:
        start = state.phase_started_at
        breaks.append(Interlude(state.turn, start, max(now, start)))
    return breaks


def _pauses(state: State, now: float) -> list[Pause]:
    """The pauses of the countdown, and the one still going on up to ``now``."""
    pauses = state.pause_timeline()
    if state.phase == "paused" and state.paused_at is not None:
        start = state.paused_at
        pauses.append(Pause(state.turn, start, max(now, start), state.paused_for))
    return pauses


def _task_label(name: str, participant_id: str, turn: int) -> str:
    """A gantt task name mermaid reads back as a task: no separators, no leading keyword."""
    clean = _gantt_text(name) or _gantt_text(participant_id)
    label = f"{clean or 'someone'} (turn {turn})"
    return f"“{clean}” (turn {turn})" if _GANTT_KEYWORD.match(label) else label


def _pause_label(state: State, pause: Pause) -> str:
    """A pause's task name; it starts with "Paused", so no name can make it a keyword."""
    if pause.away is None:
        return f"Paused (turn {pause.turn})"
    away = _gantt_text(_name(state, pause.away)) or _gantt_text(pause.away) or "the driver"
    return f"Paused, {away} away (turn {pause.turn})"


def _gantt_text(text: str) -> str:
    return one_line(_GANTT_UNSAFE.sub(" ", text))


def _name(state: State, participant_id: str) -> str:
    member = state.member(participant_id)
    return member.participant.name if member is not None else participant_id


def _title(decision: Decision) -> str:
    return inline(decision.title) or "(no title)"


def _subject(commit: CommitRecord) -> str:
    return inline(commit.summary) or "(no subject)"


def _decided_on(decision: Decision) -> str:
    """When the decision last changed: the date MADR and log4brains ask for."""
    last = decision.amendments[-1].at if decision.amendments else decision.proposed_at
    return _day(last)


def _body(text: str) -> str:
    """Free text as a markdown block, or the placeholder when there is none."""
    return block(text) or PLACEHOLDER


def _code(text: str) -> str:
    """``text`` as inline code, with a fence longer than any run of backticks inside it."""
    clean = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", clean)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {clean} " if longest else clean
    return f"{fence}{padded}{fence}"


def _and_list(items: Iterable[str]) -> str:
    names = list(items)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _yaml_string(text: str) -> str:
    """``text`` as a YAML double-quoted scalar that any YAML reader gives back as shown.

    Names may hold ':', '#' or quotes, each of which means something to YAML when left bare;
    inside double quotes with escapes, everything reads back as typed, but for control
    characters, which are written by their visible names as every screen shows them.
    """
    return '"' + "".join(_yaml_char(char) for char in printable(text)) + '"'


def _yaml_char(char: str) -> str:
    """One character of a YAML double-quoted scalar; what is left to escape after
    :func:`~pairup.printable.printable` (a byte order mark, a noncharacter) is in the BMP."""
    named = _YAML_NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    return char if _YAML_RAW.fullmatch(char) else f"\\u{ord(char):04x}"


def _span(start: float, end: float) -> tuple[int, int] | None:
    """Whole seconds, rounded so a stint's ends line up with its neighbours'; None if empty,
    or if it cannot be drawn: an end at an impossible time, or longer than any turn can be
    (a chart spanning centuries shows nothing else)."""
    seconds = moment.between(start, end)
    if seconds is None or seconds > moment.LONGEST:
        return None
    first, last = math.floor(start + 0.5), math.floor(end + 0.5)
    return (first, last) if last > first else None


def _chart_time(at: int) -> str:
    """A time as the chart's ``dateFormat`` reads it; :func:`_span` has found it believable."""
    shown = moment.utc(at)
    return moment.UNKNOWN_TIME if shown is None else shown.strftime("%Y-%m-%d %H:%M:%S")


def _clock(at: float, day: str) -> str:
    """A time of day in UTC, with its date when that is not the session's first day."""
    shown = moment.utc(math.floor(at + 0.5)) if moment.known(at) else None
    if shown is None:
        return moment.UNKNOWN_TIME
    clock = shown.strftime("%H:%M:%S")
    return clock if shown.strftime("%Y-%m-%d") == day else f"{shown:%Y-%m-%d} {clock}"


def _day(at: float) -> str:
    shown = moment.utc(at)
    return moment.UNKNOWN_DATE if shown is None else shown.strftime("%Y-%m-%d")


def _minute(at: float) -> str:
    shown = moment.utc(at)
    return moment.UNKNOWN_TIME if shown is None else shown.strftime("%Y-%m-%d %H:%M UTC")
