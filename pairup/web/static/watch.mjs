// The watch page: reads the link's fragment (which the browser never sends), connects to the
// relay that served it as a watcher, opens every body in the page, checks each event is its
// author's, folds the session with the same rules as every terminal (session.mjs) and draws it
// (render.mjs). It publishes nothing: a watch link changes nothing.

import { REPAIR_EVERY, hold, mend } from "./mend.mjs";
import * as seal from "./seal.mjs";
import { eventFrom, initialState, signedMessage, signerKey, skipOffset, step, view } from "./session.mjs";
import { render } from "./render.mjs";

const PING_EVERY = 5_000;
const TICK = 250;
const KEEP_NOTICES = 20;
const CLOCK_SAMPLES = 8;
const KEEP_PINGS = 16;
// What everyone's screen calls this watcher: "watching: a browser".
const SHOWN_AS = "a browser";
const FINAL = new Map([
  [1008, "the relay refused this page"],
  [4401, "the relay does not know this session, or the link is not the session's: check that it was pasted whole"],
  [4403, "the session has as many watchers as it takes; try again when one has left"],
  [4405, "a watch link changes nothing"],
  [4406, "the host did not let this page in"],
  [4410, "this page was taken out of the session"],
  [4422, "the relay runs another version of pairup than this page; reload the page"],
]);
const UNAUTHENTIC = "an event from the relay failed authentication";
const UNREADABLE = "an event from the relay could not be read";

const root = document.getElementById("session");
const model = {
  view: null,
  now: Date.now() / 1000,
  status: "connecting",
  problem: null,
  notices: [],
  presence: { connected: [], watching: [] },
  self: { id: "" },
  pin: null,
};

const clock = {
  samples: [],
  add(sent, relayNow, roundTrip) {
    this.samples.push([Math.max(0, roundTrip), relayNow - (sent + Math.max(0, roundTrip) / 2)]);
    if (this.samples.length > CLOCK_SAMPLES) this.samples.shift();
  },
  offset() {
    if (this.samples.length === 0) return 0;
    return this.samples.reduce((best, sample) => (sample[0] < best[0] ? sample : best))[1];
  },
};

const session = {
  state: null,
  epoch: null,
  restored: false,
  held: new Map(),
  relayHas: 0,
  asked: null,
  progress: 0,
  queue: Promise.resolve(),
};

function draw() {
  model.now = Date.now() / 1000 + clock.offset();
  if (session.state !== null) model.view = view(session.state, model.now);
  render(root, model);
}

function fail(problem) {
  model.status = "failed";
  model.problem = problem;
  draw();
}

function notice(seq, kind, text) {
  model.notices.push({ seq, kind, text });
  if (model.notices.length > KEEP_NOTICES) model.notices.shift();
}

// Everything the page does with what the relay sends runs in order, one thing at a time. A
// step that throws (a frame this page cannot make sense of) is reported, and the next one runs.
function then(work) {
  session.queue = session.queue.then(work).catch((error) => {
    notice(session.state?.last_seq ?? 0, "unreadable", `the page could not handle a frame: ${error?.message ?? error}`);
    draw();
  });
}

function hex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

function parseLink() {
  const match = /^\/([sw])\/([A-Za-z0-9_-]{8,64})$/.exec(location.pathname);
  const [secretText, pin = ""] = location.hash.slice(1).split(".");
  const secret = secretText ? seal.unb64u(secretText) : null;
  if (match === null) return { problem: "this address is not a pairup session's link" };
  if (secret === null || secret.length < 16) {
    return {
      problem:
        "the link's secret (the part after #) is missing or cut short: open the watch link exactly as it was shared",
    };
  }
  return { join: match[1] === "s", session: match[2], secret, pin };
}

async function start() {
  const link = parseLink();
  if (link.problem) return fail(link.problem);
  if (!seal.available) {
    return fail(
      "this browser opens a session only over a secure connection: use the https:// watch link of a relay with TLS (pairup start gives one), or open the page on this machine at 127.0.0.1",
    );
  }
  const pin = seal.unb64u(link.pin);
  if (pin?.length === 32) model.pin = hex(pin);
  const watch = link.join ? await seal.watchSecret(link.secret, link.session) : link.secret;
  const keys = await seal.keysOf(watch, link.session);
  let storage = null;
  try {
    storage = window.localStorage;
  } catch {
    storage = null;
  }
  const me = await seal.identityFor(link.session, storage, navigator.locks);
  model.self.id = me.id;
  connect({ session: link.session, keys, me }, 0);
  setInterval(draw, TICK);
  return undefined;
}

function connect(context, attempt) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/s/${context.session}`, ["pairup.v4"]);
  let welcomed = false;
  let timer = null;
  let mending = null;
  let heard = performance.now();
  let pinged = null;
  let over = false;
  model.status = attempt === 0 ? "connecting" : "reconnecting";
  draw();

  const send = (frame) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(frame));
  const pings = new Map();

  function ping() {
    const at = Date.now() / 1000;
    pinged = performance.now();
    pings.set(at, pinged);
    if (pings.size > KEEP_PINGS) pings.delete(pings.keys().next().value);
    send({ type: "ping", sent: at });
  }

  function stop() {
    over = true;
    clearInterval(timer);
    clearInterval(mending);
  }

  function again(delay) {
    // Once per connection: a close after the watchdog gave up on it changes nothing.
    if (over) return;
    stop();
    setTimeout(() => connect(context, attempt + 1), delay);
  }

  function look() {
    // The relay answers every ping: a ping of this page's left unanswered for two intervals
    // is a connection that died without a close. Judged by the page's own last ping, not by
    // the time since anything was heard: a tab in the background runs this once a minute.
    if (pinged !== null && heard < pinged && performance.now() - pinged > 2 * PING_EVERY) {
      socket.close();
      if (model.status !== "ended") model.status = "reconnecting";
      draw();
      again(0);
      return;
    }
    ping();
  }

  socket.addEventListener("message", (message) => {
    if (over) return;
    heard = performance.now();
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    if (frame === null || typeof frame !== "object") return;
    switch (frame.type) {
      case "challenge":
        // At once, not behind a catch-up still being folded: the relay waits 10 s for it.
        hello(context, frame, send).catch((error) => fail(`the page could not say hello: ${error?.message ?? error}`));
        break;
      case "waiting":
        model.problem = "waiting for the session's host to let this page in";
        draw();
        break;
      case "welcome":
        welcomed = true;
        attempt = 0;
        then(() => welcome(frame, send));
        // A few round trips at once for a good estimate of the relay's clock, then one every
        // interval to follow it, and to notice a silent connection and a gap left open.
        for (const delay of [0, 300, 900]) setTimeout(() => !over && ping(), delay);
        clearInterval(timer);
        clearInterval(mending);
        timer = setInterval(look, PING_EVERY);
        // A gap or a tail still missing is asked for again as often as a participant does.
        mending = setInterval(() => !over && then(() => repair(send)), REPAIR_EVERY);
        break;
      case "event":
        arrived([frame], context, send);
        break;
      case "events":
        if (Array.isArray(frame.events)) arrived(frame.events, context, send);
        break;
      case "pong": {
        const began = pings.get(frame.sent);
        pings.delete(frame.sent);
        if (began !== undefined) clock.add(frame.sent, frame.now, (performance.now() - began) / 1000);
        then(() => {
          if (Number.isSafeInteger(frame.last_seq)) session.relayHas = Math.max(session.relayHas, frame.last_seq);
          repair(send);
        });
        break;
      }
      case "presence":
        then(() => presence(frame, context));
        break;
      case "error":
        model.problem = String(frame.reason);
        break;
      default:
        break;
    }
  });

  socket.addEventListener("close", (closed) => {
    if (over) return undefined;
    // A relay that had this session and does not know it now may have restarted empty: its
    // participants make it again from their journals, so the page waits for them.
    const forgotten = closed.code === 4401 && session.epoch !== null;
    const final = forgotten ? undefined : FINAL.get(closed.code);
    if (final !== undefined) {
      stop();
      return fail(closed.reason ? `${final} (${closed.reason})` : final);
    }
    if (model.status === "ended") {
      // Nothing more will happen in the session: the page stays as it is.
      stop();
      return undefined;
    }
    model.status = "reconnecting";
    if (forgotten) {
      model.problem = "the relay does not know this session now (it may have restarted empty); trying again";
    } else if (!welcomed) {
      model.problem = closed.reason || "the relay cannot be reached, or turned this page away; trying again";
    } else {
      model.problem = null;
    }
    draw();
    const backoff = Math.min(30_000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
    // Many pages reconnecting to a restarted relay do not all come at once.
    again(welcomed ? 250 + Math.random() * 750 : backoff);
    return undefined;
  });
}

function repair(send) {
  // Ask for what the relay has and this page lacks (mend.mjs): one resume at a time, the next
  // gap as soon as the last one is filled, and again when one brought nothing for a while.
  const state = session.state;
  if (state === null) return;
  const lack = { lastSeq: state.last_seq, relayHas: session.relayHas, held: session.held, asked: session.asked, progress: session.progress };
  const { frame, asked } = mend(lack, performance.now());
  session.asked = asked;
  if (frame !== null) send(frame);
}

async function hello(context, frame, send) {
  const challenge = typeof frame.challenge === "string" ? seal.unb64u(frame.challenge) : null;
  if (challenge === null) throw new Error("the relay's challenge is not base64url");
  const { session, keys, me } = context;
  const transcript = seal.helloTranscript(challenge, session, me.id, me.public, "watcher");
  send({
    type: "hello",
    v: 4,
    session,
    participant: me.id,
    role: "watcher",
    identity: seal.b64u(me.public),
    admission: seal.b64u(await seal.sign(keys.admission, transcript)),
    proof: seal.b64u(await seal.sign(me, transcript)),
    name: await seal.seal(keys.body, new TextEncoder().encode(SHOWN_AS), seal.nameAad(session, me.id)),
  });
}

function welcome(frame, send) {
  const fresh = session.state === null || frame.epoch !== session.epoch || frame.last_seq < session.state.last_seq;
  if (fresh) {
    // Another relay's log, or a log made again: fold it from its start.
    session.state = initialState();
    session.held.clear();
    model.notices = [];
  }
  session.epoch = frame.epoch;
  session.restored = frame.restored === true;
  session.relayHas = Number.isSafeInteger(frame.last_seq) ? frame.last_seq : 0;
  session.asked = { at: performance.now(), until: session.relayHas };
  model.presence.connected = Array.isArray(frame.connected) ? frame.connected : [];
  model.status = session.state.phase === "ended" ? "ended" : "live";
  model.problem = null;
  send({ type: "resume", after: session.state.last_seq });
  draw();
}

async function presence(frame, context) {
  const watching = [];
  for (const shown of Array.isArray(frame.watching) ? frame.watching : []) {
    let name = null;
    if (typeof shown?.name === "string") {
      const opened = await seal.open(context.keys.body, shown.name, seal.nameAad(context.session, shown.participant));
      name = opened === null ? null : new TextDecoder().decode(opened) || null;
    }
    watching.push({ id: String(shown?.participant), name });
  }
  model.presence = { connected: Array.isArray(frame.connected) ? frame.connected : [], watching };
  draw();
}

function arrived(frames, context, send) {
  then(async () => {
    if (session.state === null) return;
    for (const frame of frames) {
      hold(session.held, frame, session.state.last_seq);
      if (Number.isSafeInteger(frame?.seq)) session.relayHas = Math.max(session.relayHas, frame.seq);
    }
    let next;
    while ((next = session.held.get(session.state.last_seq + 1)) !== undefined) {
      session.held.delete(next.seq);
      try {
        await apply(next, context);
      } catch (error) {
        // A bug of the page's on one event: said, and its offset used up, so the log goes on.
        notice(next.seq, "unreadable", `the page could not apply this event: ${error?.message ?? error}`);
        session.state = skipOffset(session.state, next.seq);
      }
      session.progress = performance.now();
    }
    repair(send);
    if (session.state.phase === "ended") model.status = "ended";
    draw();
  });
}

async function apply(frame, context) {
  const { session: id, keys } = context;
  const body = await seal.open(keys.body, frame.body, seal.eventAad(id, String(frame.sender), String(frame.id)));
  if (body === null) {
    notice(frame.seq, "unauthentic", UNAUTHENTIC);
    session.state = skipOffset(session.state, frame.seq);
    return;
  }
  let event = null;
  try {
    event = eventFrom(frame, new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    event = null;
  }
  if (event === null) {
    notice(frame.seq, "unreadable", UNREADABLE);
    session.state = skipOffset(session.state, frame.seq);
    return;
  }
  let forged = null;
  if (event.actor !== frame.sender && !session.restored) {
    forged = `${frame.sender} published ${event.kind} in the name of ${event.actor}`;
  } else {
    const signer = signerKey(session.state, event);
    if (signer.reason !== undefined) {
      forged = signer.reason;
    } else if (!(await seal.verifies(signer.key, event.sig, signedMessage(id, event)))) {
      forged = `${event.kind} in the name of ${event.actor} is not signed with their key`;
    }
  }
  if (forged !== null) {
    notice(frame.seq, "forged", forged);
    session.state = skipOffset(session.state, frame.seq);
    return;
  }
  session.state = step(session.state, event).state;
}

start().catch((error) => fail(`the page could not start: ${error?.message ?? error}`));
