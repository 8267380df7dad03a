// How the watch page mends its copy of the log, as a participant's link does
// (pairup/link/core.py): events that come past a gap are held, within a bound, until it is
// filled; one resume is out at a time, the next gap is asked for as soon as the last one is
// filled, and a resume that brought nothing for REPAIR_EVERY is asked for again. Pure: the
// page's clock comes in as an argument.

export const REPAIR_EVERY = 2_000;
export const EARLY_LIMIT = 10_000;

/** Hold ``frame`` until the offsets before it are in; false when it is not held (already
 * applied, not an offset, or too many held already: it is asked for again once the gap
 * before it is filled). */
export function hold(held, frame, lastSeq) {
  const seq = frame?.seq;
  if (!Number.isSafeInteger(seq) || seq <= lastSeq) return false;
  if (held.size >= EARLY_LIMIT && !held.has(seq)) return false;
  held.set(seq, frame);
  return true;
}

/** The resume to send at ``now`` (or null), and what is asked for from then on.
 *
 * ``lastSeq`` is the last offset applied, ``relayHas`` the furthest offset the relay has
 * shown it holds, ``held`` the frames past a gap, ``asked`` the resume that is out
 * (``{at, until}``) or null, ``progress`` when an event last applied in order. */
export function mend({ lastSeq, relayHas, held, asked, progress }, now) {
  if (lastSeq >= relayHas) return { frame: null, asked: null };
  if (asked !== null) {
    const answered = lastSeq >= asked.until;
    const stalled = now - Math.max(asked.at, progress) >= REPAIR_EVERY;
    if (!answered && !stalled) return { frame: null, asked };
  }
  const frame = { type: "resume", after: lastSeq };
  let until = relayHas;
  if (held.size > 0) {
    let first = Infinity;
    for (const seq of held.keys()) first = Math.min(first, seq);
    until = first - 1;
    frame.until = until;
  }
  return { frame, asked: { at: now, until } };
}
