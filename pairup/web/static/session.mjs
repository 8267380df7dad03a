// A session's rules, as pairup's Python core has them (pairup/session, pairup/identity.py,
// pairup/link/core.py): decoding an event exactly as pydantic's lax JSON mode does, the bytes an
// event's signature covers, the fold of the log, and what the watch page shows. Pure: no DOM, no
// network, no crypto. Integers past 2**53 are BigInts, as Python keeps them exact.

const ROTATION_TOLERANCE = 2.0;
const MAX_INT_DIGITS = 4300;

// ---------------------------------------------------------------- JSON, as pydantic reads it

class Refused extends Error {}

function refuse(message) {
  throw new Refused(message);
}

const HEX = /^[0-9a-fA-F]{4}$/;
const ESCAPED = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const MAX_DEPTH = 200;

function parseJson(text) {
  let at = 0;
  const space = () => {
    while (at < text.length) {
      const c = text.charCodeAt(at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      at += 1;
    }
  };
  const string = () => {
    at += 1;
    let out = "";
    let from = at;
    for (;;) {
      if (at >= text.length) refuse("unterminated string");
      const c = text.charCodeAt(at);
      if (c === 0x22) {
        out += text.slice(from, at);
        at += 1;
        return out;
      }
      if (c < 0x20) refuse("control character in a string");
      if (c >= 0xd800 && c <= 0xdfff) {
        const low = text.charCodeAt(at + 1);
        if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) refuse("lone surrogate");
        at += 2;
        continue;
      }
      if (c !== 0x5c) {
        at += 1;
        continue;
      }
      out += text.slice(from, at);
      const e = text[at + 1];
      at += 2;
      if (Object.hasOwn(ESCAPED, e ?? "")) {
        out += ESCAPED[e];
      } else if (e === "u") {
        const unit = hexUnit();
        if (unit >= 0xdc00 && unit <= 0xdfff) refuse("lone surrogate escape");
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[at] !== "\\" || text[at + 1] !== "u") refuse("lone surrogate escape");
          at += 2;
          const low = hexUnit();
          if (!(low >= 0xdc00 && low <= 0xdfff)) refuse("lone surrogate escape");
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        refuse("bad escape");
      }
      from = at;
    }
  };
  const hexUnit = () => {
    const digits = text.slice(at, at + 4);
    if (!HEX.test(digits)) refuse("bad unicode escape");
    at += 4;
    return parseInt(digits, 16);
  };
  const value = (depth) => {
    if (depth > MAX_DEPTH) refuse("nested too deeply");
    space();
    const c = text[at];
    if (c === "{") {
      at += 1;
      const fields = new Map();
      space();
      if (text[at] === "}") {
        at += 1;
        return { t: "obj", fields };
      }
      for (;;) {
        space();
        if (text[at] !== '"') refuse("expected a key");
        const key = string();
        space();
        if (text[at] !== ":") refuse("expected ':'");
        at += 1;
        fields.set(key, value(depth + 1));
        space();
        if (text[at] === ",") {
          at += 1;
        } else if (text[at] === "}") {
          at += 1;
          return { t: "obj", fields };
        } else {
          refuse("expected ',' or '}'");
        }
      }
    }
    if (c === "[") {
      at += 1;
      const items = [];
      space();
      if (text[at] === "]") {
        at += 1;
        return { t: "arr", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        space();
        if (text[at] === ",") {
          at += 1;
        } else if (text[at] === "]") {
          at += 1;
          return { t: "arr", items };
        } else {
          refuse("expected ',' or ']'");
        }
      }
    }
    if (c === '"') return { t: "str", v: string() };
    for (const [word, node] of [
      ["true", { t: "bool", v: true }],
      ["false", { t: "bool", v: false }],
      ["null", { t: "null" }],
      ["NaN", { t: "nan" }],
      ["Infinity", { t: "nan" }],
      ["-Infinity", { t: "nan" }],
    ]) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return node;
      }
    }
    NUMBER.lastIndex = at;
    const found = NUMBER.exec(text);
    if (found === null) refuse("expected a value");
    at = NUMBER.lastIndex;
    if (found[1] === undefined && found[2] === undefined) {
      const digits = found[0].length - (found[0][0] === "-" ? 1 : 0);
      if (digits > MAX_INT_DIGITS) refuse("number too long");
      return { t: "int", big: BigInt(found[0]) };
    }
    return { t: "float", v: Number(found[0]) };
  };
  const result = value(0);
  space();
  if (at !== text.length) refuse("trailing characters");
  return result;
}

// ---------------------------------------------------------------- field types

const RUST_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
const INT_TEXT = /^([+-]?)([0-9](?:_?[0-9])*)(?:\.0+)?$/;
const FLOAT_TEXT = /^[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$/i;
const TRUE_WORDS = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE_WORDS = new Set(["0", "off", "f", "false", "n", "no"]);

function canonical(big) {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(big)
    : big;
}

function bigOf(node) {
  if (node.t === "int") return node.big;
  if (node.t === "float") {
    const v = node.v;
    if (!Number.isFinite(v)) refuse("not a finite number");
    if (!Number.isInteger(v)) refuse("not a whole number");
    if (v >= 2 ** 63 || v < -(2 ** 63)) refuse("too large");
    return BigInt(v);
  }
  if (node.t === "bool") return node.v ? 1n : 0n;
  if (node.t === "str") {
    const found = INT_TEXT.exec(node.v.replace(RUST_SPACE, ""));
    if (found === null) refuse("not an integer");
    const digits = found[2].replaceAll("_", "").replace(/^0+/, "");
    if (digits.length > MAX_INT_DIGITS) refuse("too many digits");
    const big = BigInt(digits || "0");
    return found[1] === "-" ? -big : big;
  }
  return refuse("not an integer");
}

function int({ ge, le, lt } = {}) {
  return {
    check(node) {
      const big = bigOf(node);
      if (ge !== undefined && big < BigInt(ge)) refuse(`must be >= ${ge}`);
      if (le !== undefined && big > BigInt(le)) refuse(`must be <= ${le}`);
      if (lt !== undefined && big >= BigInt(lt)) refuse(`must be < ${lt}`);
      return canonical(big);
    },
    json: (value) => String(value),
  };
}

function floatText(text) {
  const trimmed = text.replace(RUST_SPACE, "");
  if (FLOAT_TEXT.test(trimmed)) return trimmed;
  if (text.startsWith("_") || text.endsWith("_") || !text.includes("_") || text.includes("__")) {
    return refuse("not a number");
  }
  const stripped = text.replaceAll("_", "");
  if (!FLOAT_TEXT.test(stripped)) refuse("not a number");
  return stripped;
}

function numberOf(text) {
  return /inf|nan/i.test(text) ? NaN : Number(text);
}

const FLOAT = {
  check(node) {
    let v;
    if (node.t === "int") v = Number(node.big);
    else if (node.t === "float") v = node.v;
    else if (node.t === "bool") v = node.v ? 1 : 0;
    else if (node.t === "str") v = numberOf(floatText(node.v));
    else refuse("not a number");
    if (!Number.isFinite(v)) refuse("not a finite number");
    return v;
  },
  json: floatJson,
};

const BOOL = {
  check(node) {
    if (node.t === "bool") return node.v;
    if (node.t === "int" && (node.big === 0n || node.big === 1n)) return node.big === 1n;
    if (node.t === "float" && (node.v === 0 || node.v === 1)) return node.v === 1;
    if (node.t === "str") {
      const word = node.v.replace(/[A-Z]/g, (c) => c.toLowerCase());
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
    }
    return refuse("not a boolean");
  },
  json: (value) => (value ? "true" : "false"),
};

const NOT_IN_A_NAME = /[\x00-\x1f\x7f-\x9f\u2028\u2029<>]/;

function codePoints(text) {
  let count = text.length;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) count -= 1;
  }
  return count;
}

function str({ min = 0, max = Infinity, pattern = null, oneLine = false } = {}) {
  return {
    check(node) {
      if (node.t !== "str") refuse("not a string");
      const length = codePoints(node.v);
      if (length < min) refuse(`shorter than ${min}`);
      if (length > max) refuse(`longer than ${max}`);
      if (pattern !== null && !pattern.test(node.v)) refuse(`does not match ${pattern}`);
      if (oneLine && NOT_IN_A_NAME.test(node.v)) {
        refuse("must be one line of text without control characters or < >");
      }
      return node.v;
    },
    json: stringJson,
  };
}

function literal(...values) {
  return {
    check(node) {
      if (node.t !== "str" || !values.includes(node.v)) refuse(`must be one of ${values}`);
      return node.v;
    },
    json: stringJson,
  };
}

function optional(type) {
  return {
    check: (node) => (node.t === "null" ? null : type.check(node)),
    json: type.json,
  };
}

function tuple(type, maxLength = Infinity) {
  return {
    check(node) {
      if (node.t !== "arr") refuse("not an array");
      if (node.items.length > maxLength) refuse(`more than ${maxLength} items`);
      return node.items.map((item) => type.check(item));
    },
    json: (value) => `[${value.map((item) => type.json(item)).join(",")}]`,
  };
}

function pair(first, second) {
  return {
    check(node) {
      if (node.t !== "arr" || node.items.length !== 2) refuse("not a pair");
      return [first.check(node.items[0]), second.check(node.items[1])];
    },
    json: (value) => `[${first.json(value[0])},${second.json(value[1])}]`,
  };
}

const REQUIRED = Symbol("required");

function model(fields, after = null) {
  const names = new Set(fields.map(([name]) => name));
  return {
    fields,
    check(node) {
      if (node.t !== "obj") refuse("not an object");
      for (const key of node.fields.keys()) {
        if (!names.has(key)) refuse(`${key}: extra fields are not permitted`);
      }
      const value = {};
      for (const [name, type, fallback] of fields) {
        if (node.fields.has(name)) {
          try {
            value[name] = type.check(node.fields.get(name));
          } catch (error) {
            if (error instanceof Refused) refuse(`${name}: ${error.message}`);
            throw error;
          }
        } else if (fallback === REQUIRED) {
          refuse(`${name}: missing`);
        } else {
          value[name] = fallback;
        }
      }
      if (after !== null) after(value);
      return value;
    },
    json: (value) => objectJson(fields, value, null),
  };
}

function objectJson(fields, value, exclude) {
  const parts = [];
  for (const [name, type] of fields) {
    const v = value[name];
    if (v === null || v === undefined || (exclude !== null && exclude.has(name))) continue;
    parts.push(`${stringJson(name)}:${type.json(v)}`);
  }
  return `{${parts.join(",")}}`;
}

const WRITTEN = { 0x22: '\\"', 0x5c: "\\\\", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t" };

function stringJson(text) {
  let out = '"';
  let from = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += text.slice(from, i);
    from = i + 1;
    out += WRITTEN[c] ?? `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return `${out}${text.slice(from)}"`;
}

/** A float as pydantic-core writes it: the shortest digits that read back, 1e+16 style. */
function floatJson(value) {
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissa, exponent] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const n = digits.length;
  const point = Number(exponent) + 1;
  if (point - n >= 0 && point <= 16) return `${sign}${digits}${"0".repeat(point - n)}.0`;
  if (point > 0 && point <= 16) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  if (point > -5 && point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  const e = point - 1;
  const shown = n === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
  return `${sign}${shown}e${e < 0 ? "-" : "+"}${Math.abs(e)}`;
}

// ---------------------------------------------------------------- the events

const PARTICIPANT_ID = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_.-]+$/ });
const EVENT_ID = str({ min: 8, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
const TURN = int({ ge: 1 });
const SHORT = str({ max: 200 });
const LONG = str({ max: 20000 });
const SHA = str({ pattern: /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/ });
const STATUS = literal("proposed", "accepted", "rejected", "deprecated", "superseded");
const PUBLIC_KEY = str({ pattern: /^[A-Za-z0-9_-]{43}$/ });
const SIGNATURE = str({ pattern: /^[A-Za-z0-9_-]{86}$/ });
const TITLE = str({ min: 1, max: 200 });
const POINT = str({ min: 1, max: 2000 });
const MAX_OPTIONS = 20;
const DRIVERS = tuple(TITLE, MAX_OPTIONS);
const HANDOVER_ID = str({ min: 8, max: 48, pattern: /^[A-Za-z0-9_-]+$/ });
const NON_NEGATIVE = int({ ge: 0 });
const PERIOD = int({ ge: 1, le: 24 * 3600 });

const PERSON_FIELDS = [
  ["name", str({ min: 1, max: 200, oneLine: true }), REQUIRED],
  ["email", str({ max: 254, oneLine: true }), ""],
];
const PERSON = model(PERSON_FIELDS);
const PARTICIPANT = model([
  ...PERSON_FIELDS,
  ["id", PARTICIPANT_ID, REQUIRED],
  ["key", optional(PUBLIC_KEY), null],
]);
const DEFAULT_SETTINGS = Object.freeze({
  turn_seconds: 15 * 60,
  break_every: 0,
  break_seconds: 5 * 60,
  max_participants: 8,
  auto_start: true,
  away_after_seconds: 60,
});
const SETTINGS = model([
  ["turn_seconds", PERIOD, DEFAULT_SETTINGS.turn_seconds],
  ["break_every", int({ ge: 0, le: 100 }), DEFAULT_SETTINGS.break_every],
  ["break_seconds", PERIOD, DEFAULT_SETTINGS.break_seconds],
  ["max_participants", int({ ge: 2, le: 8 }), DEFAULT_SETTINGS.max_participants],
  ["auto_start", BOOL, DEFAULT_SETTINGS.auto_start],
  ["away_after_seconds", PERIOD, DEFAULT_SETTINGS.away_after_seconds],
]);
const OPTION = model([
  ["name", TITLE, REQUIRED],
  ["pros", tuple(POINT, MAX_OPTIONS), []],
  ["cons", tuple(POINT, MAX_OPTIONS), []],
]);
const OPTIONS = tuple(OPTION, MAX_OPTIONS);

function chosenAmong(value) {
  const { options, chosen } = value;
  if (chosen && options !== null && !options.some((option) => option.name === chosen)) {
    refuse(`the chosen option ${pyRepr(chosen)} is not one of the options`);
  }
}

const EVENT_FIELDS = [
  ["id", EVENT_ID, REQUIRED],
  ["actor", PARTICIPANT_ID, REQUIRED],
  ["at", FLOAT, REQUIRED],
  ["seq", optional(int({ ge: 1 })), null],
  ["stamped_at", optional(FLOAT), null],
  ["sig", optional(SIGNATURE), null],
];
const TURN_FIELDS = [...EVENT_FIELDS, ["turn", TURN, REQUIRED]];

function kind(name, base, own, after = null) {
  return [name, model([...base, ["kind", literal(name), name], ...own], after)];
}

const KINDS = new Map([
  kind("session.opened", EVENT_FIELDS, [
    ["settings", SETTINGS, DEFAULT_SETTINGS],
    ["title", SHORT, ""],
  ]),
  kind("participant.joined", EVENT_FIELDS, [["participant", PARTICIPANT, REQUIRED]]),
  kind("participant.left", EVENT_FIELDS, [["participant_id", PARTICIPANT_ID, REQUIRED]]),
  kind("participant.away", EVENT_FIELDS, [
    ["participant_id", PARTICIPANT_ID, REQUIRED],
    ["since", optional(FLOAT), null],
  ]),
  kind("participant.back", EVENT_FIELDS, [["participant_id", PARTICIPANT_ID, REQUIRED]]),
  kind("rotation.reordered", EVENT_FIELDS, [["order", tuple(PARTICIPANT_ID), REQUIRED]]),
  kind("turn.started", TURN_FIELDS, []),
  kind("timer.paused", TURN_FIELDS, []),
  kind("timer.resumed", TURN_FIELDS, []),
  kind("timer.extended", TURN_FIELDS, [["seconds", int({ ge: 1, le: 4 * 3600 }), REQUIRED]]),
  kind("turn.skipped", TURN_FIELDS, []),
  kind("roles.rotated", TURN_FIELDS, []),
  kind("break.started", TURN_FIELDS, [["seconds", optional(PERIOD), null]]),
  kind("break.ended", TURN_FIELDS, [["early", BOOL, false]]),
  kind(
    "decision.recorded",
    EVENT_FIELDS,
    [
      ["decision_id", EVENT_ID, REQUIRED],
      ["title", TITLE, REQUIRED],
      ["context", LONG, ""],
      ["decision", LONG, ""],
      ["consequences", LONG, ""],
      ["status", STATUS, "proposed"],
      ["drivers", DRIVERS, []],
      ["options", OPTIONS, []],
      ["chosen", SHORT, ""],
    ],
    chosenAmong,
  ),
  kind(
    "decision.amended",
    EVENT_FIELDS,
    [
      ["decision_id", EVENT_ID, REQUIRED],
      ["title", optional(TITLE), null],
      ["context", optional(LONG), null],
      ["decision", optional(LONG), null],
      ["consequences", optional(LONG), null],
      ["status", optional(STATUS), null],
      ["drivers", optional(DRIVERS), null],
      ["options", optional(OPTIONS), null],
      ["chosen", optional(SHORT), null],
    ],
    chosenAmong,
  ),
  kind("decision.opinion", EVENT_FIELDS, [
    ["decision_id", EVENT_ID, REQUIRED],
    ["stance", literal("agree", "object"), REQUIRED],
    ["why", str({ max: 2000 }), ""],
  ]),
  kind("decision.superseded", EVENT_FIELDS, [
    ["decision_id", EVENT_ID, REQUIRED],
    ["by", EVENT_ID, REQUIRED],
  ]),
  kind("commit.recorded", EVENT_FIELDS, [
    ["sha", SHA, REQUIRED],
    ["summary", SHORT, REQUIRED],
    ["author", PERSON, REQUIRED],
    ["co_authors", tuple(PERSON), []],
  ]),
  kind("lesson.noted", EVENT_FIELDS, [["text", POINT, REQUIRED]]),
  kind("handover.part", EVENT_FIELDS, [
    ["handover", HANDOVER_ID, REQUIRED],
    ["index", int({ ge: 0, lt: 2000 }), REQUIRED],
    ["count", int({ ge: 1, le: 2000 }), REQUIRED],
    ["data", str({ min: 1, max: 40000, pattern: /^[A-Za-z0-9+/]+=*$/ }), REQUIRED],
  ]),
  kind("handover.offered", TURN_FIELDS, [
    ["handover", HANDOVER_ID, REQUIRED],
    ["mode", literal("link", "branch"), "link"],
    ["snapshot", SHA, REQUIRED],
    ["head", SHA, REQUIRED],
    ["branch", optional(SHORT), null],
    ["parts", int({ ge: 0, le: 2000 }), 0],
    ["size", NON_NEGATIVE, 0],
    ["digest", optional(str({ pattern: /^[0-9a-f]{64}$/ })), null],
    ["remote", SHORT, ""],
    ["wip_branch", SHORT, ""],
    ["files", NON_NEGATIVE, 0],
    ["insertions", NON_NEGATIVE, 0],
    ["deletions", NON_NEGATIVE, 0],
    ["commits", NON_NEGATIVE, 0],
    ["last_file", str({ max: 4096 }), ""],
    ["last_line", int({ ge: 1 }), 1],
  ]),
  kind("handover.applied", EVENT_FIELDS, [
    ["handover", HANDOVER_ID, REQUIRED],
    ["saved", SHORT, ""],
  ]),
  kind("handover.refused", TURN_FIELDS, [
    ["handover", optional(HANDOVER_ID), null],
    ["reason", str({ min: 1, max: 2000 }), REQUIRED],
    ["size", NON_NEGATIVE, 0],
    ["largest", tuple(pair(SHORT, NON_NEGATIVE), 10), []],
  ]),
  kind("clone.holding", EVENT_FIELDS, [["heads", tuple(SHA, 32), []]]),
  kind("session.ended", EVENT_FIELDS, []),
]);

/** The event a body holds, as ``pairup.session.events.decode_event`` reads it: ``{event}``, or
 * ``{error}`` saying what was wrong. */
export function decodeEvent(text) {
  try {
    if (typeof text !== "string") refuse("not text");
    const node = parseJson(text);
    if (node.t !== "obj") refuse("not an object");
    const tag = node.fields.get("kind");
    if (tag === undefined) refuse("kind: missing");
    if (tag.t !== "str" || !KINDS.has(tag.v)) refuse("kind: not an event kind");
    return { event: KINDS.get(tag.v).check(node) };
  } catch (error) {
    if (error instanceof Refused) return { error: error.message };
    throw error;
  }
}

const UNSIGNED = new Set(["seq", "stamped_at", "sig"]);

/** What an event's signature covers, byte for byte as ``pairup.identity._message``. */
export function signedMessage(session, event) {
  const body = objectJson(KINDS.get(event.kind).fields, event, UNSIGNED);
  return new TextEncoder().encode(`pairup event v1\0${session}\0${body}`);
}

/** The event an opened body carries, stamped with its offset, if it is what it claims to be
 * (``pairup.link.core.event_from``); ``envelope`` is the relay's ``{seq, at, id, sender}``. */
export function eventFrom(envelope, text) {
  const { event } = decodeEvent(text);
  if (event === undefined || event.id !== envelope.id) return null;
  if (event.actor !== envelope.sender && event.stamped_at === null) return null;
  const first = event.stamped_at === null ? envelope.at : pyMin(event.stamped_at, envelope.at);
  if (envelope.seq < 1 || !Number.isFinite(first)) return null;
  return { ...event, seq: envelope.seq, stamped_at: first };
}

/** Whose key an event's signature must be by (``pairup.identity.forged``): ``{key}``, or
 * ``{reason}`` when no signature can make it its actor's. */
export function signerKey(state, event) {
  const member = memberOf(state, event.actor);
  let key = member === null ? null : member.participant.key;
  if (key === null && event.kind === "participant.joined") key = event.participant.key;
  if (key === null) {
    return { reason: `${event.kind} names ${event.actor} as its author, who has no key in this session` };
  }
  if (event.sig === null) return { reason: `${event.kind} in the name of ${event.actor} is not signed` };
  return { key };
}

// ---------------------------------------------------------------- Python's ways with text

const NEW_SINCE_PYTHON =
  "1ov.0 8.0 qt.0 3k.0 n.0 d7.0 2dd.e 3.b 2r.1 1c.0 7e.1 tz.0 o6.2 1gt.0 va.3 dh.1 a.0 na4.4 3.0 " +
  "2.0 6.2 l.0 gk2.f ce.1 1j.6 1ki.1f nh.p rr.11 4.s 9.1 8j.5 9.8 y.5 n4.2 8v.9 2.0 3.0 2.11 2.9 " +
  "2.0 3.0 2.3 2.9 2.1 9.1 ku.j t9.9 2f.7 2h.x f.9 c7.17 5.9 7r.g 2.14 4.s 445.0 h.l b.32y 5qe.1l " +
  "2dj.1l 87.o 3.o 7z.4 4qq.7 zk.0 a.l 2q.36 6yo.0 z.0 59n.70 4.c3 7.m g.g r4.j 2fm.5 7a.1p y.0 " +
  "u9.15 5z.16 5.0 5d.u 2.l 9.1 34p.0 4.0 48.b 2i.0 61.9 5.1 f.8 ak.3 u.2 g.3 4.1 u.2 c.4 7.0 2.0 " +
  "5.2 b.2 3.0 9.2 5.0 8.1 5v.10 b.0 10zj.6 4mb.b 5s3.h9 7ar.6jt";
// Code points Python's Unicode tables do not know yet (so its repr escapes them) that newer
// browsers have assigned: each range as its distance from the last one's end, and its length.
const UNKNOWN_TO_PYTHON = (() => {
  const ranges = [];
  let end = 0;
  for (const part of NEW_SINCE_PYTHON.split(" ")) {
    const [gap, length] = part.split(".").map((n) => parseInt(n, 36));
    ranges.push([end + gap, end + gap + length]);
    end += gap + length;
  }
  return ranges;
})();
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function printable(char) {
  if (char === " ") return true;
  const cp = char.codePointAt(0);
  if (UNKNOWN_TO_PYTHON.some(([from, to]) => cp >= from && cp <= to)) return false;
  return !NOT_PRINTABLE.test(char);
}

/** ``repr(text)``, as Python writes a string. */
function pyRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const cp = char.codePointAt(0);
    if (char === quote || char === "\\") out += `\\${char}`;
    else if (char === "\t") out += "\\t";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (printable(char)) out += char;
    else if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return out + quote;
}

// Where Python's casefold differs from a code point's upper case lowered: [from, to, shift or text].
const FOLDS = [
  [305, 305, 0], [5024, 5109, 0], [5112, 5117, -8], [7305, 7305, 0], [7838, 7838, "ss"],
  [42955, 42956, 0], [42958, 42958, 0], [42962, 42962, 0], [42964, 42964, 0], [42970, 42970, 0],
  [42972, 42972, 0], [43888, 43967, -38864], [68944, 68965, 0], [93856, 93880, 0],
];

/** ``text.casefold()``. */
function casefold(text) {
  let out = "";
  for (const char of text) {
    const cp = char.codePointAt(0);
    const fold = FOLDS.find(([from, to]) => cp >= from && cp <= to);
    if (fold === undefined) out += char.toUpperCase().toLowerCase();
    else out += typeof fold[2] === "string" ? fold[2] : String.fromCodePoint(cp + fold[2]);
  }
  return out;
}

/** ``f"{value:.0f}"``: rounded half to even, as Python does. */
function wholeText(value) {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  let whole = Math.floor(value);
  const rest = value - whole;
  if (rest > 0.5 || (rest === 0.5 && whole % 2 !== 0)) whole += 1;
  const text = BigInt(whole).toString();
  return whole === 0 && (value < 0 || Object.is(value, -0)) ? `-${text}` : text;
}

function pyMax(a, b) {
  return b > a ? b : a;
}

function pyMin(a, b) {
  return b < a ? b : a;
}

function same(a, b) {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => same(item, b[i]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => same(a[key], b[key]));
  }
  return false;
}

// ---------------------------------------------------------------- the state

/** Ids used up so far: one map shared along a line of states, each knowing how many it holds. */
function seenHas(seen, id) {
  const at = seen.ids.get(id);
  return at !== undefined && at < seen.count;
}

function seenAdd(seen, id) {
  let ids = seen.ids;
  if (ids.size !== seen.count) {
    ids = new Map([...ids].filter(([, at]) => at < seen.count));
  }
  ids.set(id, seen.count);
  return { ids, count: seen.count + 1 };
}

/** The empty session. */
export function initialState() {
  return {
    settings: DEFAULT_SETTINGS,
    title: "",
    opened: false,
    host: null,
    phase: "lobby",
    members: [],
    driver: null,
    turn: 1,
    last_driver: null,
    phase_started_at: null,
    phase_length: 0.0,
    paused_at: null,
    paused_total: 0.0,
    paused_for: null,
    stint_start: null,
    opened_at: null,
    ended_at: null,
    clock: null,
    tallied_until: null,
    last_seq: 0,
    tally: { driving: new Map(), paused: 0.0, breaks: 0.0, idle: 0.0 },
    stints: [],
    breaks: [],
    pauses: [],
    extensions: [],
    decisions: new Map(),
    commits: new Map(),
    lessons: [],
    seen: { ids: new Map(), count: 0 },
    handovers: new Map(),
    holding: new Map(),
  };
}

function memberOf(state, id) {
  return state.members.find((member) => member.id === id) ?? null;
}

function present(state) {
  return state.members.filter((member) => member.present);
}

function isHereMember(member) {
  return member.present && member.away === null;
}

function isHere(state, id) {
  const member = memberOf(state, id);
  return member !== null && isHereMember(member);
}

function nameOf(state, id) {
  const member = memberOf(state, id);
  if (member !== null) return member.participant.name;
  return id === null ? "None" : id;
}

function makeMember(id, participant, isPresent, leftAt = null, away = null) {
  return { id, participant, present: isPresent, left_at: leftAt, away };
}

function replaced(members, member) {
  return members.map((m) => (m.id === member.id ? member : m));
}

function nextDriver(members, driver) {
  let start = 0;
  const index = members.findIndex((member) => member.id === driver);
  if (index >= 0) start = index + 1;
  const count = members.length;
  for (let offset = 0; offset < count; offset += 1) {
    const member = members[(start + offset) % count];
    if (isHereMember(member)) return member.id;
  }
  return null;
}

function eventTime(event) {
  return event.stamped_at === null ? event.at : event.stamped_at;
}

// ---------------------------------------------------------------- timer math

function expiresAt(state) {
  if (state.phase_started_at === null) return null;
  if (state.phase === "running") return state.phase_started_at + state.phase_length + state.paused_total;
  if (state.phase === "break") return state.phase_started_at + state.phase_length;
  return null;
}

function remaining(state, now) {
  if (state.phase === "paused" && state.phase_started_at !== null && state.paused_at !== null) {
    const used = state.paused_at - state.phase_started_at - state.paused_total;
    return pyMax(0.0, state.phase_length - used);
  }
  const end = expiresAt(state);
  return end === null ? null : pyMax(0.0, end - now);
}

function breakDueAfter(state, turn) {
  const every = state.settings.break_every;
  return every > 0 && turn % every === 0;
}

function tallyAt(state, now) {
  const since = state.tallied_until;
  if (since === null || now <= since || state.phase === "ended") return state.tally;
  const elapsed = now - since;
  let { driving, paused, breaks, idle } = state.tally;
  if (state.phase === "running" && state.driver !== null) {
    driving = new Map(driving).set(state.driver, (driving.get(state.driver) ?? 0.0) + elapsed);
  } else if (state.phase === "paused") {
    paused += elapsed;
  } else if (state.phase === "break") {
    breaks += elapsed;
  } else {
    idle += elapsed;
  }
  return { driving, paused, breaks, idle };
}

function stintsUntil(state, now) {
  const stints = [...state.stints];
  if (state.phase === "running" && state.driver !== null && state.stint_start !== null) {
    stints.push({
      turn: state.turn,
      driver: state.driver,
      start: state.stint_start,
      end: pyMax(now, state.stint_start),
    });
  }
  return stints;
}

// ---------------------------------------------------------------- the fold

function has(changes, name) {
  return Object.prototype.hasOwnProperty.call(changes, name);
}

function pick(changes, name, state) {
  return has(changes, name) ? changes[name] : state[name];
}

/** Apply ``event`` (``pairup.session.reduce.step``): ``{state, rejected}``, ``rejected`` saying
 * why it did not apply (``null`` when it did). ``state`` is never changed. */
export function step(state, event) {
  const seq = event.seq;
  if (seenHas(state.seen, event.id)) {
    const repeated = "already applied (repeated event id)";
    if (seq !== null && seq > state.last_seq) return { state: { ...state, last_seq: seq }, rejected: repeated };
    return { state, rejected: repeated };
  }
  if (seq !== null && seq <= state.last_seq) {
    return { state, rejected: `offset ${seq} is not after ${state.last_seq} (a repeat, or out of order)` };
  }
  const used = { seen: seenAdd(state.seen, event.id) };
  if (seq !== null) used.last_seq = seq;
  if (state.phase === "ended") return { state: { ...state, ...used }, rejected: "the session has ended" };
  const time = state.clock === null ? eventTime(event) : pyMax(eventTime(event), state.clock);
  const changes = outsider(state, event) ?? HANDLERS[event.kind](state, event, time);
  if (typeof changes === "string") return { state: { ...state, ...used }, rejected: changes };
  Object.assign(changes, used);
  changes.clock = time;
  if (state.paused_for !== null && pick(changes, "phase", state) !== "paused") changes.paused_for = null;
  if (state.clock === null) {
    changes.opened_at = time;
    changes.tallied_until = time;
  }
  if (has(changes, "phase") || has(changes, "driver") || has(changes, "turn")) {
    const now = [pick(changes, "phase", state), pick(changes, "driver", state), pick(changes, "turn", state)];
    if (now[0] !== state.phase || now[1] !== state.driver || now[2] !== state.turn) {
      changes.tally = tallyAt(state, time);
      changes.tallied_until = time;
      if (now[2] !== state.turn) changes.last_driver = state.driver;
      keepTimeline(state, changes, now, time);
    }
  }
  return { state: { ...state, ...changes }, rejected: null };
}

/** Use up an offset whose event cannot be read (``pairup.session.reduce.skip_offset``). */
export function skipOffset(state, seq) {
  return seq <= state.last_seq ? state : { ...state, last_seq: seq };
}

const OWN_ARRIVAL = new Set(["session.opened", "participant.joined"]);

function outsider(state, event) {
  if (OWN_ARRIVAL.has(event.kind)) return null;
  const member = memberOf(state, event.actor);
  if (member === null) return `${event.actor} is not in the session`;
  if (!member.present) return `${member.participant.name} has left the session`;
  return null;
}

function keepTimeline(before, changes, [phase, driver, turn], time) {
  const wasDriving = before.phase === "running" && before.driver !== null;
  const isDriving = phase === "running" && driver !== null;
  if (!(wasDriving && isDriving && before.driver === driver && before.turn === turn)) {
    if (wasDriving && before.stint_start !== null && before.driver !== null) {
      const stint = { turn: before.turn, driver: before.driver, start: before.stint_start, end: time };
      changes.stints = [...before.stints, stint];
    }
    changes.stint_start = isDriving ? time : null;
  }
  if (before.phase === "break" && phase !== "break" && before.phase_started_at !== null) {
    changes.breaks = [...before.breaks, { turn: before.turn, start: before.phase_started_at, end: time }];
  }
  if (before.phase === "paused" && phase !== "paused" && before.paused_at !== null) {
    const pause = { turn: before.turn, start: before.paused_at, end: time, away: before.paused_for };
    changes.pauses = [...before.pauses, pause];
  }
}

function startTurn(state, time) {
  return {
    phase: "running",
    phase_started_at: time,
    phase_length: state.settings.turn_seconds,
    paused_at: null,
    paused_total: 0.0,
  };
}

function nextTurn(state, driver, time, start) {
  if (start && state.settings.auto_start && driver !== null) return startTurn(state, time);
  return { phase: "waiting", phase_started_at: null, paused_at: null };
}

function takeBreak(seconds, time) {
  return { phase: "break", phase_started_at: time, phase_length: seconds, paused_at: null };
}

function rotate(state, time, members = state.members) {
  const driver = nextDriver(members, state.driver);
  const ended = state.turn;
  const rotated = { driver, turn: ended + 1, paused_total: 0.0 };
  if (driver !== null && breakDueAfter(state, ended)) {
    return { ...rotated, ...takeBreak(state.settings.break_seconds, time) };
  }
  return { ...rotated, ...nextTurn(state, driver, time, state.phase === "running") };
}

function wrongTurn(state, turn) {
  // A turn past 2**53 is a BigInt, never equal to the session's.
  if (turn !== state.turn) return `refers to turn ${turn}, but the session is at turn ${state.turn}`;
  return null;
}

function opened(state, event) {
  if (state.opened || state.phase !== "lobby") return "the session's rules are already set";
  if (state.host !== null && event.actor !== state.host) {
    return `only the host (${nameOf(state, state.host)}) sets the session's rules`;
  }
  const count = present(state).length;
  if (count > event.settings.max_participants) return `${count} people are present, more than the rules allow`;
  return { settings: event.settings, title: event.title, opened: true, host: event.actor };
}

function joined(state, event, time) {
  let person = event.participant;
  if (person.id !== event.actor) return `${event.actor} cannot join the session for ${person.id}: only they can`;
  const existing = memberOf(state, person.id);
  const bound = existing === null ? null : existing.participant.key;
  if (bound !== null && person.key !== null && person.key !== bound) {
    return `${person.id} is someone else's id in this session (their key is not this one)`;
  }
  let freed = {};
  if (existing === null || !existing.present) {
    const limit = state.settings.max_participants;
    const here = present(state);
    if (here.length >= limit) {
      const gone = here.filter((m) => m.away !== null && !m.away.by_choice && longGone(state, m, time));
      if (gone.length === 0) return `the session is full (${limit} participants)`;
      const longest = gone.reduce((a, b) => (b.away.since < a.away.since ? b : a));
      freed = takenOut(state, longest, time);
      state = { ...state, ...freed };
    }
  }
  if (existing !== null && person.key === null) person = { ...person, key: existing.participant.key };
  const arrived = makeMember(person.id, person, true);
  const members = existing === null ? [...state.members, arrived] : replaced(state.members, arrived);
  const changes = { members, driver: driverOnArrival(state, person.id) };
  if (state.host === null) changes.host = person.id;
  return { ...freed, ...changes, ...returned(state, person.id, time) };
}

function left(state, event, time) {
  const existing = memberOf(state, event.participant_id);
  if (existing === null || !existing.present) return `${event.participant_id} is not in the session`;
  if (event.actor !== existing.id) {
    const refused = takeOutRefused(state, event.actor, existing, time);
    if (refused !== null) return refused;
  }
  return takenOut(state, existing, time);
}

function takeOutRefused(state, actor, member, time) {
  if (actor === state.host && isHere(state, actor)) return null;
  const who = member.participant.name;
  if (member.away === null) return `${who} is here: only they can leave (others can once they are away)`;
  if (!isHere(state, actor)) return "only someone here can take a participant out of the rotation";
  if (!longGone(state, member, time)) return `${who} has not been away long enough to be taken out`;
  return null;
}

function longGone(state, member, time) {
  const away = member.away;
  if (away === null) return false;
  const noted = away.noted_at === null ? away.since : away.noted_at;
  return time - noted >= state.settings.away_after_seconds;
}

function takenOut(state, existing, time) {
  const gone = existing.away === null ? time : existing.away.since;
  const members = replaced(state.members, makeMember(existing.id, existing.participant, false, gone));
  if (state.driver !== existing.id) return { members };
  if (state.phase === "running" || state.phase === "paused") {
    return { members, ...rotate(state, time, members) };
  }
  return { members, driver: nextDriver(members, state.driver) };
}

function away(state, event, time) {
  const existing = memberOf(state, event.participant_id);
  if (existing === null || !existing.present) return `${event.participant_id} is not in the session`;
  if (existing.away !== null) return `${existing.participant.name} is already away`;
  if (event.actor !== existing.id && !isHere(state, event.actor)) {
    return "only someone here can say that another participant is away";
  }
  const floor = state.opened_at !== null ? state.opened_at : time;
  const since = event.since === null ? time : pyMin(pyMax(event.since, floor), time);
  const mark = { since, by_choice: event.actor === existing.id, noted_at: time };
  const members = replaced(
    state.members,
    makeMember(existing.id, existing.participant, true, existing.left_at, mark),
  );
  const changes = { members };
  if (state.driver !== existing.id) return changes;
  if (state.phase === "running") return { ...changes, phase: "paused", paused_at: time, paused_for: existing.id };
  if (["lobby", "waiting", "break"].includes(state.phase)) {
    const successor = nextDriver(members, existing.id);
    if (successor !== null) changes.driver = successor;
  }
  return changes;
}

function back(state, event, time) {
  const existing = memberOf(state, event.participant_id);
  if (existing === null || !existing.present) return `${event.participant_id} is not in the session`;
  if (existing.away === null) return `${existing.participant.name} is not away`;
  if (event.actor !== existing.id) return `only ${existing.participant.name} can say they are back`;
  const members = replaced(state.members, makeMember(existing.id, existing.participant, true));
  return { members, driver: driverOnArrival(state, existing.id), ...returned(state, existing.id, time) };
}

function driverOnArrival(state, id) {
  const driver = state.driver;
  if (driver === null) return id;
  const betweenTurns = ["lobby", "waiting", "break"].includes(state.phase);
  return betweenTurns && !isHere(state, driver) ? id : driver;
}

function returned(state, id, time) {
  if (state.phase !== "paused" || state.paused_for !== id || state.paused_at === null) return {};
  return { phase: "running", paused_at: null, paused_total: state.paused_total + (time - state.paused_at) };
}

function reordered(state, event) {
  const byId = new Map(state.members.map((member) => [member.id, member]));
  const here = new Set(state.members.filter((member) => member.present).map((member) => member.id));
  const named = new Set(event.order);
  const equal = (a, b) => a.size === b.size && [...a].every((id) => b.has(id));
  if (event.order.length !== named.size || !(equal(named, new Set(byId.keys())) || equal(named, here))) {
    return "the new order must list everyone present (or everyone) exactly once";
  }
  const absent = state.members.filter((member) => !named.has(member.id));
  return { members: [...event.order.map((id) => byId.get(id)), ...absent] };
}

function turnStarted(state, event, time) {
  if (state.phase !== "lobby" && state.phase !== "waiting") {
    return `a turn can start only between turns, not while ${state.phase}`;
  }
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  if (state.driver === null) return "nobody is present to drive";
  if (!isHere(state, state.driver)) return "the driver is away: n hands the turn to the next one";
  return startTurn(state, time);
}

function paused(state, event, time) {
  if (state.phase !== "running") return `only a running timer can be paused (it is ${state.phase})`;
  return wrongTurn(state, event.turn) ?? { phase: "paused", paused_at: time };
}

function resumed(state, event, time) {
  if (state.phase !== "paused" || state.paused_at === null) {
    return `only a paused timer can be resumed (it is ${state.phase})`;
  }
  if (state.driver !== null && !isHere(state, state.driver)) {
    return "the driver is away: n hands the turn to the next one";
  }
  return (
    wrongTurn(state, event.turn) ?? {
      phase: "running",
      paused_at: null,
      paused_total: state.paused_total + (time - state.paused_at),
    }
  );
}

function extended(state, event, time) {
  if (state.phase !== "running" && state.phase !== "paused") {
    return `only a turn's timer can be extended (it is ${state.phase})`;
  }
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  const end = expiresAt(state);
  const overdue = end === null ? 0.0 : pyMax(0.0, time - end);
  const extension = { turn: state.turn, at: time, seconds: event.seconds, by: event.actor };
  return {
    phase_length: state.phase_length + overdue + event.seconds,
    extensions: [...state.extensions, extension],
  };
}

function skipped(state, event, time) {
  if (!["running", "paused", "waiting"].includes(state.phase)) return `there is no turn to skip while ${state.phase}`;
  return wrongTurn(state, event.turn) ?? rotate(state, time);
}

function rotated(state, event, time) {
  if (state.phase !== "running") {
    return `roles rotate when a running turn's time is up (the timer is ${state.phase})`;
  }
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  const end = expiresAt(state);
  if (end !== null && time < end - ROTATION_TOLERANCE) {
    return `turn ${state.turn} still has ${wholeText(end - time)}s left`;
  }
  return rotate(state, time);
}

function breakStarted(state, event, time) {
  if (!["waiting", "running", "paused"].includes(state.phase)) return `a break cannot start while ${state.phase}`;
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  if (state.driver === null) return "nobody is present to take a break";
  const brk = takeBreak(event.seconds ?? state.settings.break_seconds, time);
  if (state.phase === "waiting") return brk;
  return { ...rotate(state, time), ...brk };
}

function breakEnded(state, event, time) {
  if (state.phase !== "break") return "there is no break to end";
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  const end = expiresAt(state);
  if (!event.early && end !== null && time < end - ROTATION_TOLERANCE) {
    return `the break still has ${wholeText(end - time)}s left`;
  }
  let driver = state.driver;
  if (driver === null || !isHere(state, driver)) driver = nextDriver(state.members, driver);
  return { driver, ...nextTurn(state, driver, time, true) };
}

function withId(ids, id) {
  return ids.includes(id) ? ids : [...ids, id];
}

function decisionRecorded(state, event, time) {
  if (state.decisions.has(event.decision_id)) return `decision ${event.decision_id} is already recorded`;
  const decision = {
    id: event.decision_id,
    number: state.decisions.size + 1,
    title: event.title,
    context: event.context,
    decision: event.decision,
    consequences: event.consequences,
    status: event.status,
    proposed_by: event.actor,
    proposed_at: time,
    turn: state.turn,
    amendments: [],
    present: withId(
      state.members.filter(isHereMember).map((member) => member.id),
      event.actor,
    ),
    drivers: event.drivers,
    options: event.options,
    chosen: event.chosen,
    opinions: [],
    superseded_by: null,
    supersedes: [],
  };
  return { decisions: new Map(state.decisions).set(decision.id, decision) };
}

const AMENDABLE = ["title", "context", "decision", "consequences", "status", "drivers", "options", "chosen"];

function amendRefused(state, actor, decision) {
  if (actor !== decision.proposed_by) {
    return `decision ${decision.number} is ${nameOf(state, decision.proposed_by)}'s to amend`;
  }
  return null;
}

function decisionAmended(state, event, time) {
  const current = state.decisions.get(event.decision_id);
  if (current === undefined) return `there is no decision ${event.decision_id} to amend`;
  const refused = amendRefused(state, event.actor, current);
  if (refused !== null) return refused;
  const changes = {};
  for (const name of AMENDABLE) {
    if (event[name] !== null && !same(event[name], current[name])) changes[name] = event[name];
  }
  if (Object.keys(changes).length === 0) return "the amendment changes nothing";
  const options = has(changes, "options") ? changes.options : current.options;
  const chosen = has(changes, "chosen") ? changes.chosen : current.chosen;
  if (chosen && !options.some((option) => option.name === chosen)) {
    if (has(changes, "chosen")) return `${pyRepr(chosen)} is not one of decision ${current.number}'s options`;
    changes.chosen = "";
  }
  const amendment = { by: event.actor, at: time, changed: Object.keys(changes) };
  let amended = {
    ...current,
    ...changes,
    amendments: [...current.amendments, amendment],
    present: withId(current.present, event.actor),
  };
  const decisions = new Map(state.decisions);
  if (current.superseded_by !== null && amended.status !== "superseded") {
    const newer = decisions.get(current.superseded_by);
    decisions.set(newer.id, { ...newer, supersedes: newer.supersedes.filter((id) => id !== current.id) });
    amended = { ...amended, superseded_by: null };
  }
  return { decisions: decisions.set(amended.id, amended) };
}

function decisionOpinion(state, event, time) {
  const current = state.decisions.get(event.decision_id);
  if (current === undefined) return `there is no decision ${event.decision_id} to agree with or object to`;
  const said = current.opinions.filter((o) => o.participant === event.actor);
  if (said.length === 1 && said[0].stance === event.stance && said[0].why === event.why) {
    return `that is already ${nameOf(state, event.actor)}'s opinion of decision ${current.number}`;
  }
  const earlier = current.opinions.filter((o) => o.participant !== event.actor);
  const opinion = { participant: event.actor, stance: event.stance, why: event.why, at: time };
  const decided = { ...current, opinions: [...earlier, opinion], present: withId(current.present, event.actor) };
  return { decisions: new Map(state.decisions).set(decided.id, decided) };
}

function decisionSuperseded(state, event, time) {
  let older = state.decisions.get(event.decision_id);
  let newer = state.decisions.get(event.by);
  if (older === undefined || newer === undefined) {
    const missing = older === undefined ? event.decision_id : event.by;
    return `there is no decision ${missing} in the session`;
  }
  const refused = amendRefused(state, event.actor, older);
  if (refused !== null) return refused;
  if (older.id === newer.id) return `decision ${older.number} cannot supersede itself`;
  if (older.superseded_by !== null) {
    const already = state.decisions.get(older.superseded_by);
    return `decision ${older.number} is already superseded by decision ${already.number}`;
  }
  let follow = newer;
  while (follow.superseded_by !== null) {
    if (follow.superseded_by === older.id) {
      return `decision ${newer.number} is itself superseded, by way of ${older.number}`;
    }
    follow = state.decisions.get(follow.superseded_by);
  }
  const amendment = { by: event.actor, at: time, changed: ["status"] };
  older = {
    ...older,
    status: "superseded",
    superseded_by: newer.id,
    amendments: [...older.amendments, amendment],
    present: withId(older.present, event.actor),
  };
  newer = { ...newer, supersedes: [...newer.supersedes, older.id] };
  return { decisions: new Map(state.decisions).set(older.id, older).set(newer.id, newer) };
}

function credited(state, people) {
  const found = [];
  for (const person of people) {
    const email = casefold(person.email);
    const member =
      state.members.find((m) => email && casefold(m.participant.email) === email) ??
      state.members.find((m) => m.participant.name === person.name);
    if (member !== undefined) {
      const known = { name: member.participant.name, email: member.participant.email };
      if (!found.some((p) => p.name === known.name && p.email === known.email)) found.push(known);
    }
  }
  return found;
}

function commitRecorded(state, event, time) {
  if (state.commits.has(event.sha)) return `commit ${event.sha.slice(0, 12)} is already recorded`;
  const record = {
    sha: event.sha,
    number: state.commits.size + 1,
    summary: event.summary,
    author: event.author,
    co_authors: credited(state, event.co_authors),
    recorded_by: event.actor,
    at: time,
    turn: state.turn,
  };
  return { commits: new Map(state.commits).set(record.sha, record) };
}

function lessonNoted(state, event, time) {
  const lesson = { number: state.lessons.length + 1, text: event.text, by: event.actor, at: time, turn: state.turn };
  return { lessons: [...state.lessons, lesson] };
}

function handoverOffered(state, event, time) {
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  if (event.actor !== state.last_driver) return `only whoever drove turn ${event.turn - 1} hands it over`;
  if (state.handovers.has(event.handover)) return "this handover is already offered";
  if (state.driver === null || state.driver === event.actor) return `nobody else drives turn ${event.turn}`;
  const record = {
    id: event.handover,
    number: state.handovers.size + 1,
    turn: event.turn,
    by: event.actor,
    to: state.driver,
    at: time,
    snapshot: event.snapshot,
    outcome: "offered",
  };
  return { handovers: new Map(state.handovers).set(record.id, record) };
}

function handoverApplied(state, event, time) {
  const record = state.handovers.get(event.handover);
  if (record === undefined || record.outcome === "applied" || !record.snapshot) return "no such handover is waiting";
  if (event.actor !== record.to) return `only ${nameOf(state, record.to)} takes this handover`;
  const settled = { ...record, outcome: "applied", saved: event.saved, settled_at: time };
  return { handovers: new Map(state.handovers).set(record.id, settled) };
}

function handoverRefused(state, event, time) {
  const record = event.handover === null ? undefined : state.handovers.get(event.handover);
  if (record !== undefined) {
    if (record.outcome !== "offered") return "this handover is settled already";
    if (event.actor !== record.to && event.actor !== record.by) {
      return `only ${nameOf(state, record.to)} refuses this handover`;
    }
    const settled = { ...record, outcome: "refused", reason: event.reason, settled_at: time };
    return { handovers: new Map(state.handovers).set(record.id, settled) };
  }
  const wrong = wrongTurn(state, event.turn);
  if (wrong !== null) return wrong;
  if (event.actor !== state.last_driver) return `only whoever drove turn ${event.turn - 1} says why no handover came`;
  const key = event.handover ?? event.id;
  if (state.handovers.has(key)) return "this handover is settled already";
  const refused = {
    id: key,
    number: state.handovers.size + 1,
    turn: event.turn,
    by: event.actor,
    to: state.driver,
    at: time,
    snapshot: "",
    outcome: "refused",
    reason: event.reason,
    settled_at: time,
  };
  return { handovers: new Map(state.handovers).set(key, refused) };
}

function endRefused(state, actor) {
  const host = state.host;
  if (actor === host) return null;
  if (host !== null && isHere(state, host)) {
    return `only the host (${nameOf(state, host)}) can end the session while they are here`;
  }
  if (!isHere(state, actor)) return "only someone here can end the session";
  return null;
}

function ended(state, event, time) {
  return endRefused(state, event.actor) ?? { phase: "ended", ended_at: time, phase_started_at: null, paused_at: null };
}

const HANDLERS = {
  "session.opened": opened,
  "participant.joined": joined,
  "participant.left": left,
  "participant.away": away,
  "participant.back": back,
  "rotation.reordered": reordered,
  "turn.started": turnStarted,
  "timer.paused": paused,
  "timer.resumed": resumed,
  "timer.extended": extended,
  "turn.skipped": skipped,
  "roles.rotated": rotated,
  "break.started": breakStarted,
  "break.ended": breakEnded,
  "decision.recorded": decisionRecorded,
  "decision.amended": decisionAmended,
  "decision.opinion": decisionOpinion,
  "decision.superseded": decisionSuperseded,
  "commit.recorded": commitRecorded,
  "lesson.noted": lessonNoted,
  "handover.part": () => ({}),
  "handover.offered": handoverOffered,
  "handover.applied": handoverApplied,
  "handover.refused": handoverRefused,
  "clone.holding": (state, event) => ({ holding: new Map(state.holding).set(event.actor, event.heads) }),
  "session.ended": ended,
};

// ---------------------------------------------------------------- what the page shows

function byKey(entries) {
  const out = {};
  for (const [key, value] of entries) {
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function role(state, member) {
  if (member.id === state.driver && state.phase !== "ended") return "driver";
  if (!member.present) return "left";
  if (member.away !== null) return "away";
  return "navigator";
}

/** The session at ``now`` (seconds on the session's clock), as the watch page shows it. */
// The records' views, made once for each version of a collection: a state replaces a
// collection only when it changes, so a page that draws the view four times a second copies
// a long session's decisions once per change, and hands the drawing the same arrays.
const viewsOf = new WeakMap();

function shownOnce(collection, make) {
  let made = viewsOf.get(collection);
  if (made === undefined) {
    made = make();
    viewsOf.set(collection, made);
  }
  return made;
}

export function view(state, now) {
  const tally = tallyAt(state, now);
  const timed = ["running", "paused", "break"].includes(state.phase);
  const person = (p) => ({ name: p.name, email: p.email });
  return {
    title: state.title,
    phase: state.phase,
    turn: state.turn,
    host: state.host,
    driver: state.driver,
    remaining: remaining(state, now),
    length: timed ? state.phase_length : null,
    settings: { ...state.settings },
    members: state.members.map((member) => ({
      id: member.id,
      name: member.participant.name,
      email: member.participant.email,
      present: member.present,
      here: isHereMember(member),
      away: member.away === null ? null : { since: member.away.since, by_choice: member.away.by_choice },
      role: role(state, member),
      driven: tally.driving.get(member.id) ?? 0.0,
    })),
    decisions: shownOnce(state.decisions, () => [...state.decisions.values()]
      .sort((a, b) => a.number - b.number)
      .map((d) => ({
        id: d.id,
        number: d.number,
        title: d.title,
        status: d.status,
        context: d.context,
        decision: d.decision,
        consequences: d.consequences,
        drivers: [...d.drivers],
        options: d.options.map((o) => ({ name: o.name, pros: [...o.pros], cons: [...o.cons] })),
        chosen: d.chosen,
        proposed_by: d.proposed_by,
        proposed_at: d.proposed_at,
        turn: d.turn,
        opinions: d.opinions.map((o) => ({ ...o })),
        superseded_by: d.superseded_by,
        supersedes: [...d.supersedes],
      }))),
    commits: shownOnce(state.commits, () => [...state.commits.values()]
      .sort((a, b) => a.number - b.number)
      .map((c) => ({
        sha: c.sha,
        number: c.number,
        summary: c.summary,
        author: person(c.author),
        co_authors: c.co_authors.map(person),
        recorded_by: c.recorded_by,
        at: c.at,
        turn: c.turn,
      }))),
    lessons: shownOnce(state.lessons, () => state.lessons.map((l) => ({ ...l }))),
    breaks: shownOnce(state.breaks, () => state.breaks.map((b) => ({ ...b }))),
    stints: stintsUntil(state, now).map((s) => ({ ...s })),
    opened_at: state.opened_at,
    ended_at: state.ended_at,
    clock: state.clock,
    tally: {
      driving: byKey(tally.driving),
      paused: tally.paused,
      breaks: tally.breaks,
      idle: tally.idle,
    },
  };
}
