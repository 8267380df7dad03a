// The watch page's drawing: render(root, model) puts a session's View on the page.
//
// Called after every batch of events and every 250 ms for the countdown, so it changes only
// what changed: text is compared before it is set, list rows are kept by key, and the
// focusable parts (each decision's <summary>) are made once and never moved or remade, so
// keyboard focus and the open <details> stay where the person left them.
//
// Everything a participant typed reaches the page through textContent or text nodes only,
// inside <bdi> so a bidirectional override cannot turn the words around it. The page's own
// words follow the terminal's (pairup/tui): "▶ Ann drives", "turn 3 · next: Bob", "✓2 ✗1".

const EARLIEST = 946_684_800; // 2000-01-01: no session took place before pairup existed
const LATEST = 7_258_118_400; // 2200-01-01: any later is a clock's mistake
const LONGEST = 30 * 24 * 3600; // a longer turn or session is a clock's mistake
const NO_TIME = "--:--";

const STATUS = {
  connecting: "◌ connecting…",
  live: "● connected",
  reconnecting: "◌ reconnecting…",
  ended: "■ the session has ended",
  failed: "✕ not connected",
};
const NOTICE = {
  unauthentic: ["error", "⚠ Error"],
  unreadable: ["error", "⚠ Error"],
  forged: ["error", "⚠ Error"],
};

const pages = new WeakMap();
let made = 0;

export function render(root, model) {
  let page = pages.get(root);
  if (page === undefined) {
    page = build(root);
    pages.set(root, page);
  }
  draw(page, model);
}

// -- words ---------------------------------------------------------------------------------

function known(at) {
  return typeof at === "number" && at >= EARLIEST && at < LATEST;
}

function capped(seconds) {
  if (typeof seconds !== "number" || Number.isNaN(seconds)) return [0, true];
  return seconds > LONGEST ? [LONGEST, true] : [Math.max(0, seconds), false];
}

const two = (n) => String(n).padStart(2, "0");

// "12:34", or "1:02:03" past an hour; rounded up, so 00:00 shows only when time is up.
function countdown(seconds) {
  const [left, over] = capped(seconds);
  if (over) return NO_TIME;
  const whole = Math.ceil(left - 1e-9);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  return hours ? `${hours}:${two(minutes)}:${two(secs)}` : `${two(minutes)}:${two(secs)}`;
}

// "45 s", "12 min", "1 h 05 min": a length at a glance.
function span(seconds) {
  const [length, over] = capped(seconds);
  const whole = Math.round(length);
  let said;
  if (whole < 60) said = `${whole} s`;
  else if (whole < 3600) said = `${Math.floor(whole / 60)} min`;
  else said = `${Math.floor(whole / 3600)} h ${two(Math.floor(whole / 60) % 60)} min`;
  return over ? `over ${said}` : said;
}

// "45 s", "12 min 05 s", "1 h 02 min 05 s": time at the keyboard, to the second.
function driven(seconds) {
  const [length, over] = capped(seconds);
  const whole = Math.round(length);
  const minutes = Math.floor(whole / 60);
  const secs = whole % 60;
  let said;
  if (!minutes) said = `${secs} s`;
  else if (minutes < 60) said = `${minutes} min ${two(secs)} s`;
  else said = `${Math.floor(minutes / 60)} h ${two(minutes % 60)} min ${two(secs)} s`;
  return over ? `over ${said}` : said;
}

function timeOfDay(at) {
  if (!known(at)) return NO_TIME;
  const when = new Date(at * 1000);
  return `${two(when.getHours())}:${two(when.getMinutes())}`;
}

function between(start, end) {
  return known(start) && known(end) ? Math.max(0, end - start) : null;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// -- the page's parts ----------------------------------------------------------------------

// An element of the page's own making: its classes, attributes and children (our words as
// strings, or elements). Participant text never comes through here.
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function hidden(...words) {
  return h("span", { class: "vh" }, ...words);
}

function section(page, name, heading, level = "h2") {
  const id = `${page.prefix}-${name}`;
  const title = h(level, { id }, heading);
  const part = h("section", { class: `card ${name}`, "aria-labelledby": id }, title);
  return [part, title];
}

function build(root) {
  made += 1;
  const page = { prefix: `pairup${made}`, rows: new WeakMap(), keys: new WeakMap() };
  page.status = h("p", { class: "status" });
  page.problem = h("p", { class: "problem" });
  page.title = h("h1", { class: "heading" });
  const header = h(
    "header",
    { class: "bar" },
    page.status,
    page.problem,
    page.title,
    h("p", { class: "watching" }, "watching a pairup session, read only"),
  );

  [page.notices] = section(page, "notices", "Not applied");
  page.noticeList = h("ol", { class: "rows", role: "list" });
  page.notices.append(page.noticeList);

  [page.turn] = section(page, "turn", "Turn");
  page.headline = h("p", { class: "headline" });
  page.clock = h("p", { class: "clock", role: "timer", "aria-labelledby": `${page.prefix}-turn` });
  page.progress = h("progress", { class: "progress", "aria-label": "Time used" });
  page.detail = h("p", { class: "detail" });
  page.turn.append(page.headline, page.clock, page.progress, page.detail);

  [page.summary] = section(page, "summary", "The session has ended");
  page.summaryLine = h("p", { class: "span" });
  page.summaryDrivers = h("tbody");
  page.summaryDecisions = h("ol", { class: "rows", role: "list" });
  page.summaryCommits = h("ol", { class: "rows", role: "list" });
  page.summaryLessons = h("ol", { class: "rows", role: "list" });
  page.summary.append(
    page.summaryLine,
    h(
      "table",
      { class: "drove" },
      h("caption", {}, "Who drove how long"),
      h(
        "thead",
        { class: "vh" },
        h("tr", {}, h("th", { scope: "col" }, "Who"), h("th", { scope: "col" }, "Drove")),
      ),
      page.summaryDrivers,
    ),
  );
  page.summaryCounts = {};
  for (const [name, list] of [
    ["Decisions", page.summaryDecisions],
    ["Commits", page.summaryCommits],
    ["Lessons learned", page.summaryLessons],
  ]) {
    page.summaryCounts[name] = h("span", { class: "count" });
    page.summary.append(h("h3", {}, name, " ", page.summaryCounts[name]), list);
  }

  [page.roster] = section(page, "roster", "Rotation");
  page.rosterList = h("ol", { class: "rows", role: "list" });
  page.watchers = h("p", { class: "watchers" });
  page.roster.append(page.rosterList, page.watchers);

  let heading;
  [page.decisions, heading] = section(page, "decisions", "Decisions");
  page.decisionCount = h("span", { class: "count" });
  heading.append(" ", page.decisionCount);
  page.decisionList = h("ol", { class: "rows", role: "list" });
  page.noDecision = h("p", { class: "empty" }, "No decision yet.");
  page.decisions.append(page.decisionList, page.noDecision);

  [page.lessons, heading] = section(page, "lessons", "Lessons learned");
  page.lessonCount = h("span", { class: "count" });
  heading.append(" ", page.lessonCount);
  page.lessonList = h("ol", { class: "rows", role: "list" });
  page.lessons.append(page.lessonList);

  [page.commits, heading] = section(page, "commits", "Commits");
  page.commitCount = h("span", { class: "count" });
  heading.append(" ", page.commitCount);
  page.commitList = h("ol", { class: "rows", role: "list" });
  page.commits.append(page.commitList);

  [page.breaks, heading] = section(page, "breaks", "Breaks");
  page.breakCount = h("span", { class: "count" });
  heading.append(" ", page.breakCount);
  page.breakList = h("ol", { class: "rows", role: "list" });
  page.breaks.append(page.breakList);

  const main = h(
    "main",
    { class: "board" },
    h("div", { class: "now" }, page.turn, page.summary, page.roster),
    h("div", { class: "record" }, page.notices, page.decisions, page.lessons, page.commits, page.breaks),
  );

  page.pin = h("p", { class: "pin" });
  page.pinValue = h("code", { class: "fingerprint" });
  page.pin.append(
    "Relay certificate SHA-256: ",
    page.pinValue,
    h("br"),
    "Compare it with the certificate's SHA-256 fingerprint your browser shows for this page.",
  );
  page.live = h("div", { class: "vh", role: "status", "aria-live": "polite", "aria-atomic": "true" });
  const footer = h("footer", { class: "foot" }, page.pin);

  root.replaceChildren(header, main, footer, page.live);
  return page;
}

// -- small changes -------------------------------------------------------------------------

function setText(element, value) {
  if (element.textContent !== value) element.textContent = value;
}

function setShown(element, shown) {
  if (element.hidden === shown) element.hidden = !shown;
}

function setAttr(element, name, value) {
  if (value === null) {
    if (element.hasAttribute(name)) element.removeAttribute(name);
  } else if (element.getAttribute(name) !== value) {
    element.setAttribute(name, value);
  }
}

// Redraws an element made of parts (our words, participant text) only when they changed. A
// part is a string of the page's own words, or [text, kind]: "name" (participant text, bold),
// "text" (participant text), "strong" (our words, bold).
function setParts(page, element, parts) {
  const key = JSON.stringify(parts);
  if (page.keys.get(element) === key) return;
  page.keys.set(element, key);
  element.replaceChildren(...parts.map(piece));
}

function piece(part) {
  if (typeof part === "string") return document.createTextNode(part);
  const [text, kind] = part;
  const element = document.createElement(kind === "strong" ? "strong" : "bdi");
  if (kind === "name") element.className = "name";
  element.textContent = text;
  return element;
}

// Keeps one row per item in `list`, by key: new rows are made, gone ones removed, the others
// updated in place and moved only when the order changed.
function syncRows(page, list, items, keyOf, make, update) {
  let rows = page.rows.get(list);
  if (rows === undefined) {
    rows = new Map();
    page.rows.set(list, rows);
  }
  const keys = [];
  const kept = new Set();
  items.forEach((item, index) => {
    let key = String(keyOf(item, index));
    if (kept.has(key)) key = `${key}\u0000${index}`;
    keys.push(key);
    kept.add(key);
  });
  for (const [key, row] of rows) {
    if (!kept.has(key)) {
      row.element.remove();
      rows.delete(key);
    }
  }
  let before = list.firstChild;
  items.forEach((item, index) => {
    let row = rows.get(keys[index]);
    if (row === undefined) {
      row = make();
      rows.set(keys[index], row);
    }
    update(row, item);
    if (row.element !== before) list.insertBefore(row.element, before);
    before = row.element.nextSibling;
  });
}

// -- the whole page ------------------------------------------------------------------------

function draw(page, model) {
  const view = model.view ?? null;
  const names = new Map();
  for (const member of view?.members ?? []) names.set(member.id, member.name);
  const nameOf = (id) => (id == null ? "nobody" : (names.get(id) ?? String(id)));

  drawStatus(page, model, view);
  drawNotices(page, model.notices ?? []);
  drawTurn(page, view, nameOf);
  drawRoster(page, model, view);
  drawDecisions(page, view, nameOf);
  drawLessons(page, view, nameOf);
  drawCommits(page, view);
  drawBreaks(page, view);
  drawSummary(page, view, nameOf);
  setText(page.pinValue, model.pin ?? "");
  setShown(page.pin, Boolean(model.pin));
  announce(page, model, view, nameOf);
}

function drawStatus(page, model, view) {
  const status = Object.hasOwn(STATUS, model.status) ? model.status : "connecting";
  setText(page.status, STATUS[status]);
  setAttr(page.status, "data-status", status);
  setText(page.problem, model.problem ?? "");
  setShown(page.problem, Boolean(model.problem));
  setAttr(page.problem, "data-status", status);
  const title = view?.title ? view.title : "pairup session";
  setText(page.title, title);
  const heading = `${title} · pairup`;
  if (document.title !== heading) document.title = heading;
}

function drawNotices(page, notices) {
  setShown(page.notices, notices.length > 0);
  syncRows(
    page,
    page.noticeList,
    notices,
    (notice) => `${notice.seq}:${notice.kind}:${notice.text}`,
    () => {
      const label = h("strong", { class: "kind" });
      const text = h("bdi", { class: "text" });
      return { element: h("li", {}, label, " ", text), label, text };
    },
    (row, notice) => {
      const [severity, words] = Object.hasOwn(NOTICE, notice.kind) ? NOTICE[notice.kind] : NOTICE.unreadable;
      setAttr(row.element, "data-severity", severity);
      setText(row.label, `${words}, event ${notice.seq}:`);
      setText(row.text, String(notice.text ?? ""));
    },
  );
}

function nextDriver(members, driver) {
  const start = members.findIndex((member) => member.id === driver) + 1;
  for (let offset = 0; offset < members.length; offset += 1) {
    const member = members[(start + offset) % members.length];
    if (member.here) return member.id;
  }
  return null;
}

// The headline and the line under the countdown, as the terminal's turn panel words them.
function turnWords(view, nameOf) {
  const driver = [nameOf(view.driver), "name"];
  const following = [nameOf(nextDriver(view.members, view.driver)), "name"];
  switch (view.phase) {
    case "lobby":
      if (view.driver == null) return [[["Opening the session…", "strong"]], []];
      return [[["Ready", "strong"], " · ", driver, " drives first"], ["waiting for the first turn"]];
    case "running":
      return [["▶ ", driver, " drives"], [`turn ${view.turn} · next: `, following]];
    case "paused": {
      const away = view.members.find((member) => member.id === view.driver)?.away;
      if (away)
        return [
          [["⏸ Paused", "strong"], " · ", driver, " is away"],
          ["resumes when ", driver, " is back · next: ", following],
        ];
      return [[["⏸ Paused", "strong"], " · ", driver, " drives"], [`turn ${view.turn} · next: `, following]];
    }
    case "waiting":
      return [[driver, ["'s turn", "strong"], " is next"], [`turn ${view.turn} waits to start`]];
    case "break":
      return [[["☕ Break", "strong"], " · then ", driver, " drives"], [`then turn ${view.turn}`]];
    default:
      return [[["Session ended", "strong"]], []];
  }
}

function drawTurn(page, view, nameOf) {
  setShown(page.turn, view === null || view.phase !== "ended");
  setAttr(page.turn, "data-phase", view?.phase ?? "lobby");
  if (view === null) {
    setParts(page, page.headline, [["Opening the session…", "strong"]]);
    setParts(page, page.detail, []);
    setText(page.clock, NO_TIME);
    setShown(page.progress, false);
    return;
  }
  const [headline, detail] = turnWords(view, nameOf);
  setParts(page, page.headline, headline);
  setParts(page, page.detail, detail);
  const length = typeof view.length === "number" && view.length > 0 ? view.length : 0;
  const left = typeof view.remaining === "number" ? view.remaining : null;
  // Before a turn starts, the turn it will be, as the terminal shows it.
  const ahead = ["lobby", "waiting"].includes(view.phase) ? view.settings?.turn_seconds : null;
  const clock = length ? countdown(left ?? length) : ahead ? countdown(ahead) : NO_TIME;
  setText(page.clock, clock);
  setAttr(page.clock, "data-long", clock.length > 5 ? "" : null);
  setShown(page.progress, length > 0);
  if (length > 0) {
    setAttr(page.progress, "max", String(length));
    setAttr(page.progress, "value", String(Math.min(length, Math.max(0, length - (left ?? length)))));
  }
}

function drawRoster(page, model, view) {
  const members = view?.members ?? [];
  setShown(page.roster, view !== null);
  const connected = new Set(model.presence?.connected ?? []);
  const ended = view?.phase === "ended";
  const following = view && !ended && view.driver != null ? nextDriver(members, view.driver) : null;
  syncRows(
    page,
    page.rosterList,
    members,
    (member) => member.id,
    () => {
      const place = h("span", { class: "place", "aria-hidden": "true" });
      const name = h("bdi", { class: "name" });
      const role = h("span", { class: "role" });
      const presence = h("span", { class: "presence" });
      const state = h("span", { class: "state" }, role, " ", presence);
      return { element: h("li", {}, place, " ", name, " ", state), place, name, role, presence };
    },
    (row, member) => {
      let role = member.role;
      if (role === "navigator" && member.id === following && member.id !== view.driver) role = "next";
      setText(row.place, `${members.indexOf(member) + 1}${role === "driver" ? " ▶" : ""}`);
      setText(row.name, String(member.name));
      const away = role === "away" && member.away ? ` ${timeOfDay(member.away.since)}` : "";
      setText(row.role, `${role}${away}`);
      setAttr(row.element, "data-role", role);
      const online = connected.has(member.id);
      setText(row.presence, online ? "● online" : "○ offline");
      setAttr(row.presence, "data-online", String(online));
    },
  );
  const watching = model.presence?.watching ?? [];
  const self = model.self?.id;
  const parts = [];
  watching.forEach((watcher, index) => {
    parts.push(index ? ", " : "watching: ");
    if (watcher.name != null) parts.push([String(watcher.name), "text"]);
    else if (watcher.id !== self) parts.push([String(watcher.id), "text"]);
    if (watcher.id === self) parts.push(watcher.name == null ? "you" : " (you)");
  });
  setParts(page, page.watchers, parts);
  setShown(page.watchers, parts.length > 0);
}

function tallyParts(decision) {
  const opinions = decision.opinions ?? [];
  const agreed = opinions.filter((opinion) => opinion.stance === "agree").length;
  const objected = opinions.filter((opinion) => opinion.stance === "object").length;
  return [agreed, objected];
}

// "✓2" on screen, "2 agree" to a screen reader.
function opinionCount(name, mark, words) {
  const count = h("span", {});
  const element = h("span", { class: name }, h("span", { "aria-hidden": "true" }, mark), count, hidden(words));
  return [element, count];
}

function decisionMaker() {
  const number = h("span", { class: "number" });
  const title = h("bdi", { class: "subject" });
  const links = h("span", { class: "links" });
  const status = h("span", { class: "badge" });
  const [agreed, agreedCount] = opinionCount("agreed", "✓", " agree");
  const [objected, objectedCount] = opinionCount("objected", "✗", " object");
  const summary = h(
    "summary",
    {},
    number,
    " ",
    title,
    links,
    " ",
    h("span", { class: "meta" }, status, " ", agreed, " ", objected),
  );
  const body = h("div", { class: "body" });
  const element = h("li", {}, h("details", {}, summary, body));
  return { element, number, title, links, status, agreed, agreedCount, objected, objectedCount, body };
}

function drawDecisions(page, view, nameOf) {
  // The same decisions under the same names are drawn already: a tick of the countdown
  // costs nothing here, however long the session's decisions are.
  const names = (view?.members ?? []).map((member) => `${member.id}\u0000${member.name}`).join("\n");
  if (view !== null && page.drawn === view.decisions && page.drawnNames === names) return;
  page.drawn = view?.decisions;
  page.drawnNames = names;
  const decisions = [...(view?.decisions ?? [])].sort((a, b) => a.number - b.number);
  setShown(page.decisions, view !== null);
  setShown(page.noDecision, decisions.length === 0);
  setText(page.decisionCount, decisions.length ? `(${decisions.length})` : "");
  const numbers = new Map(decisions.map((decision) => [decision.id, decision]));
  syncRows(
    page,
    page.decisionList,
    decisions,
    (decision) => decision.id,
    decisionMaker,
    (row, decision) => {
      setText(row.number, `${decision.number}.`);
      setText(row.title, String(decision.title));
      const links = [];
      const newer = numbers.get(decision.superseded_by);
      if (newer) links.push(`superseded by ${newer.number}`);
      const older = (decision.supersedes ?? []).map((id) => numbers.get(id)?.number).filter(Boolean);
      if (older.length) links.push(`supersedes ${older.join(", ")}`);
      setText(row.links, links.length ? ` (${links.join(", ")})` : "");
      setText(row.status, String(decision.status));
      setAttr(row.status, "data-status", String(decision.status));
      const [agreed, objected] = tallyParts(decision);
      setText(row.agreedCount, String(agreed));
      setShown(row.agreed, agreed > 0);
      setText(row.objectedCount, String(objected));
      setShown(row.objected, objected > 0);
      drawDecisionBody(page, row.body, decision, numbers, nameOf);
    },
  );
}

// The decision's record, as the terminal's decision form shows it. Nothing in it takes focus,
// so it is remade whenever the decision changes.
function drawDecisionBody(page, body, decision, numbers, nameOf) {
  const opinions = (decision.opinions ?? []).map((opinion) => ({ ...opinion, name: nameOf(opinion.participant) }));
  const shown = {
    decision,
    opinions,
    by: nameOf(decision.proposed_by),
    links: [decision.superseded_by, ...(decision.supersedes ?? [])].map((id) => {
      const other = numbers.get(id);
      return other ? [other.number, other.title] : null;
    }),
  };
  const key = JSON.stringify(shown);
  if (page.keys.get(body) === key) return;
  page.keys.set(body, key);

  const text = (value, tag = "bdi", attributes = {}) => {
    const element = h(tag, attributes);
    element.textContent = String(value ?? "");
    return element;
  };
  const fields = h("dl", { class: "fields" });
  const field = (label, ...content) => fields.append(h("dt", {}, label), h("dd", {}, ...content));
  const prose = (value) => text(value, "p", { class: "prose" });
  const items = (values) =>
    h("ul", { class: "points" }, ...values.map((value) => h("li", {}, text(value))));

  field(
    "Proposed by",
    text(shown.by, "bdi", { class: "name" }),
    ` at ${timeOfDay(decision.proposed_at)}, turn ${decision.turn}`,
  );
  if (decision.context) field("Context: what made us decide?", prose(decision.context));
  if (decision.drivers?.length) field("Decision drivers: what matters most", items(decision.drivers));
  if (decision.options?.length) {
    const options = h("ul", { class: "options" });
    for (const option of decision.options) {
      const chosen = decision.chosen && option.name === decision.chosen;
      const head = h("p", { class: "option" }, text(option.name, "bdi", { class: "name" }));
      if (chosen) head.append(" ", h("span", { class: "badge", "data-status": "accepted" }, "chosen"));
      const item = h("li", {}, head);
      if (option.pros?.length) item.append(h("p", { class: "label" }, "Pros"), items(option.pros));
      if (option.cons?.length) item.append(h("p", { class: "label" }, "Cons"), items(option.cons));
      options.append(item);
    }
    field("Considered options", options);
  }
  if (decision.decision) field("Decision: what we do", prose(decision.decision));
  if (decision.consequences) field("Consequences: what becomes easier or harder", prose(decision.consequences));
  const [newer, ...older] = shown.links;
  if (newer) field("Superseded by", `${newer[0]}. `, text(newer[1]));
  for (const link of older.filter(Boolean)) field("Supersedes", `${link[0]}. `, text(link[1]));

  const said = h("ul", { class: "opinions" });
  for (const opinion of opinions) {
    const agrees = opinion.stance === "agree";
    const line = h(
      "li",
      { "data-stance": agrees ? "agree" : "object" },
      h("span", { class: "mark", "aria-hidden": "true" }, agrees ? "✓ " : "✗ "),
      text(opinion.name, "bdi", { class: "name" }),
      agrees ? " agrees" : " objects",
    );
    if (opinion.why) line.append(": ", text(opinion.why));
    said.append(line);
  }
  if (!opinions.length) said.append(h("li", { class: "empty" }, "Nobody yet."));
  field("Who agrees, who objects", said);
  body.replaceChildren(fields);
}

function drawLessons(page, view, nameOf) {
  const lessons = view?.lessons ?? [];
  setShown(page.lessons, lessons.length > 0);
  setText(page.lessonCount, `(${lessons.length})`);
  syncRows(
    page,
    page.lessonList,
    lessons,
    (lesson, index) => lesson.number ?? index,
    () => {
      const text = h("bdi", { class: "prose" });
      const by = h("bdi", { class: "name" });
      const when = h("span", {});
      return { element: h("li", {}, text, h("span", { class: "by" }, " (", by, when, ")")), text, by, when };
    },
    (row, lesson) => {
      setText(row.text, String(lesson.text));
      setText(row.by, nameOf(lesson.by));
      setText(row.when, `, turn ${lesson.turn}, ${timeOfDay(lesson.at)}`);
    },
  );
}

function commitParts(commit) {
  const credit = (commit.co_authors ?? []).map((person) => [String(person.name), "name"]);
  const parts = [[String(commit.author?.name ?? ""), "name"]];
  credit.forEach((person, index) => parts.push(index ? ", " : " (with ", person));
  if (credit.length) parts.push(")");
  return parts;
}

function drawCommits(page, view) {
  const commits = view?.commits ?? [];
  setShown(page.commits, commits.length > 0);
  setText(page.commitCount, `(${commits.length})`);
  syncRows(
    page,
    page.commitList,
    commits,
    (commit, index) => `${index}:${commit.sha}`,
    () => {
      const sha = h("code", { class: "sha" });
      const summary = h("bdi", { class: "text" });
      const who = h("span", { class: "by" });
      const when = h("span", { class: "when" });
      return { element: h("li", {}, sha, " ", summary, h("br"), who, when), sha, summary, who, when };
    },
    (row, commit) => {
      setText(row.sha, String(commit.sha ?? "").slice(0, 7));
      setText(row.summary, String(commit.summary ?? ""));
      setParts(page, row.who, commitParts(commit));
      setText(row.when, ` · turn ${commit.turn}, ${timeOfDay(commit.at)}`);
    },
  );
}

function drawBreaks(page, view) {
  const breaks = view?.breaks ?? [];
  setShown(page.breaks, breaks.length > 0);
  setText(page.breakCount, `(${breaks.length})`);
  syncRows(
    page,
    page.breakList,
    breaks,
    (pause, index) => index,
    () => ({ element: h("li", {}) }),
    (row, pause) => {
      const length = between(pause.start, pause.end);
      setText(
        row.element,
        `after turn ${pause.turn}: ${timeOfDay(pause.start)} to ${timeOfDay(pause.end)}, ` +
          `${length === null ? "unknown length" : span(length)}`,
      );
    },
  );
}

function drawSummary(page, view, nameOf) {
  const ended = view?.phase === "ended";
  setShown(page.summary, ended);
  if (!ended) return;
  const end = view.ended_at ?? view.clock;
  const start = view.opened_at ?? end;
  const length = between(start, end);
  setText(
    page.summaryLine,
    `${timeOfDay(start)} to ${timeOfDay(end)}, ${length === null ? "unknown length" : driven(length)}, ` +
      `${plural(view.turn, "turn")}.`,
  );
  const driving = view.tally?.driving ?? {};
  const drove = Object.entries(driving);
  syncRows(
    page,
    page.summaryDrivers,
    drove,
    ([id]) => id,
    () => {
      const name = h("bdi", { class: "name" });
      const time = h("td", { class: "time" });
      return { element: h("tr", {}, h("th", { scope: "row" }, name), time), name, time };
    },
    (row, [id, seconds]) => {
      setText(row.name, nameOf(id));
      setText(row.time, driven(seconds));
    },
  );
  const decisions = [...(view.decisions ?? [])].sort((a, b) => a.number - b.number);
  const numbers = new Map(decisions.map((decision) => [decision.id, decision.number]));
  setText(page.summaryCounts.Decisions, `(${decisions.length})`);
  syncRows(
    page,
    page.summaryDecisions,
    decisions,
    (decision) => decision.id,
    () => ({ element: h("li", {}) }),
    (row, decision) => {
      let status = String(decision.status);
      if (numbers.has(decision.superseded_by)) status += ` by ${numbers.get(decision.superseded_by)}`;
      const older = (decision.supersedes ?? []).map((id) => numbers.get(id)).filter(Boolean);
      if (older.length) status += `, supersedes ${older.join(", ")}`;
      const parts = [`${decision.number}. `, [String(decision.title), "text"], ` (${status})`];
      for (const [stance, word] of [
        ["agree", "agreed"],
        ["object", "objected"],
      ]) {
        const who = (decision.opinions ?? []).filter((opinion) => opinion.stance === stance);
        if (!who.length) continue;
        parts.push(`; ${word}: `);
        who.forEach((opinion, index) => parts.push(...(index ? [", "] : []), [nameOf(opinion.participant), "name"]));
      }
      setParts(page, row.element, parts);
    },
  );
  const commits = view.commits ?? [];
  setText(page.summaryCounts.Commits, `(${commits.length})`);
  syncRows(
    page,
    page.summaryCommits,
    commits,
    (commit, index) => `${index}:${commit.sha}`,
    () => ({ element: h("li", {}) }),
    (row, commit) =>
      setParts(page, row.element, [
        String(commit.sha ?? "").slice(0, 7),
        " ",
        [String(commit.summary ?? ""), "text"],
        ": ",
        ...commitParts(commit),
      ]),
  );
  const lessons = view.lessons ?? [];
  setText(page.summaryCounts["Lessons learned"], `(${lessons.length})`);
  syncRows(
    page,
    page.summaryLessons,
    lessons,
    (lesson, index) => lesson.number ?? index,
    () => ({ element: h("li", {}) }),
    (row, lesson) =>
      setParts(page, row.element, [[String(lesson.text), "text"], " (", [nameOf(lesson.by), "name"], ")"]),
  );
}

// -- what a screen reader hears ------------------------------------------------------------

// Says in the polite live region what changed that matters: a rotation, a break, a decision
// recorded or its status changed, the end, the connection lost or back, an event not applied.
// Nothing for what was already so when the page opened, and nothing for a countdown's tick.
function announce(page, model, view, nameOf) {
  const before = page.heard;
  const now = {
    status: model.status,
    phase: view?.phase ?? null,
    driver: view?.driver ?? null,
    turn: view?.turn ?? null,
    decisions: new Map((view?.decisions ?? []).map((decision) => [decision.id, decision.status])),
    notices: new Set((model.notices ?? []).map((notice) => `${notice.seq}:${notice.kind}`)),
  };
  page.heard = now;
  if (before === undefined) return;
  const said = [];
  if (before.status !== now.status) {
    if (now.status === "reconnecting" && before.status === "live") said.push("Connection lost: reconnecting.");
    if (now.status === "failed") said.push(`Connection lost${model.problem ? `: ${model.problem}` : "."}`);
    if (now.status === "live" && before.status !== "connecting") said.push("Connection back.");
  }
  if (view !== null && before.phase !== null) {
    const flipped = now.phase !== before.phase || now.driver !== before.driver || now.turn !== before.turn;
    if (now.phase === "ended" && before.phase !== "ended") {
      said.push("The session has ended.");
    } else if (now.phase === "break" && before.phase !== "break") {
      said.push(`Break for ${span(view.length ?? 0)}. ${nameOf(view.driver)} drives after it.`);
    } else if (now.driver !== before.driver && now.driver !== null && now.phase !== "lobby") {
      said.push(`${nameOf(now.driver)} drives now.`);
    }
    if (flipped && now.phase !== "ended") flash(page);
    for (const decision of view.decisions ?? []) {
      const was = before.decisions.get(decision.id);
      if (was === undefined) said.push(`Decision ${decision.number} recorded: ${decision.title} (${decision.status}).`);
      else if (was !== decision.status) said.push(`Decision ${decision.number} is now ${decision.status}.`);
    }
  }
  const fresh = (model.notices ?? []).filter((notice) => !before.notices.has(`${notice.seq}:${notice.kind}`));
  if (fresh.length === 1) said.push(`An event was not applied: ${fresh[0].text}`);
  else if (fresh.length > 1) said.push(`${fresh.length} events were not applied.`);
  if (said.length) page.live.textContent = said.join(" ");
}

// A brief highlight of the turn panel when the turn changes hands (none with reduced motion).
function flash(page) {
  page.flip = !page.flip;
  page.turn.classList.remove("flash-a", "flash-b");
  page.turn.classList.add(page.flip ? "flash-a" : "flash-b");
}
