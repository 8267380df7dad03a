// The watch page's keys and seals, with the browser's WebCrypto: the same constructions as
// pairup/seal.py and pairup/protocol.py (HKDF-SHA256, AES-256-GCM, Ed25519), so the page opens
// the bodies every participant seals and proves the watch link as a watcher's pairup does.

const subtle = globalThis.crypto?.subtle;
const encoder = new TextEncoder();
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const SEALED = /^[A-Za-z0-9_-]+$/;
// An Ed25519 private key in PKCS #8 is this prefix and the 32-byte seed (RFC 8410).
const PKCS8_SEED_PREFIX = Uint8Array.of(
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
);

export const available = subtle !== undefined;

export function b64u(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function unb64u(text) {
  if (!SEALED.test(text) || text.length % 4 === 1) return null;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4);
  const raw = atob(padded);
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

export function joined(...parts) {
  const chunks = parts.map((part) => (typeof part === "string" ? encoder.encode(part) : part));
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length + 1, -1));
  let at = 0;
  chunks.forEach((chunk, index) => {
    if (index > 0) whole[at++] = 0;
    whole.set(chunk, at);
    at += chunk.length;
  });
  return whole;
}

async function hkdf(secret, session, info, bytes) {
  const key = await subtle.importKey("raw", secret, "HKDF", false, ["deriveBits"]);
  const params = { name: "HKDF", hash: "SHA-256", salt: encoder.encode(session), info: encoder.encode(info) };
  return new Uint8Array(await subtle.deriveBits(params, key, bytes * 8));
}

/** The watch secret of a join link's secret: a join link opened here watches. */
export function watchSecret(secret, session) {
  return hkdf(secret, session, "pairup watch v4", 16);
}

/** What a watch secret gives: the body key, and the watchers' admission key pair. */
export async function keysOf(watch, session) {
  const raw = await hkdf(watch, session, "pairup body v4", 32);
  const body = await subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const seed = await hkdf(watch, session, "pairup watch admission v4", 32);
  const admission = await signerFromSeed(seed);
  return { body, admission };
}

async function signerFromSeed(seed) {
  const pkcs8 = new Uint8Array(PKCS8_SEED_PREFIX.length + seed.length);
  pkcs8.set(PKCS8_SEED_PREFIX);
  pkcs8.set(seed, PKCS8_SEED_PREFIX.length);
  const key = await subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  const { x } = await subtle.exportKey("jwk", key);
  return { key, public: unb64u(x), seed };
}

const KEEP_IDS = 8;

/** This page's own id and key pair for a session: one this browser entered with before that
 * no other tab of it holds now (each tab holds its id's lock while it lives), or a new one.
 * Two tabs on one link are two watchers, never one id taken back and forth; a reload comes
 * back as the same watcher, without using up another of the session's watcher ids. */
export async function identityFor(session, storage, locks) {
  const kept = `pairup.watch.${session}`;
  const known = remembered(storage, kept);
  for (const { id, seed } of known) {
    if (await claimed(locks, `${kept}.${id}`)) return { id, ...(await signerFromSeed(seed)) };
  }
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const id = `web-${b64u(crypto.getRandomValues(new Uint8Array(6)))}`;
  const all = [...known, { id, seed }].slice(-KEEP_IDS);
  try {
    storage?.setItem(kept, JSON.stringify(all.map((one) => ({ id: one.id, seed: b64u(one.seed) }))));
  } catch {
    // A browser that keeps nothing (private mode, storage full) gets a new id each load.
  }
  await claimed(locks, `${kept}.${id}`);
  return { id, ...(await signerFromSeed(seed)) };
}

function remembered(storage, kept) {
  let records;
  try {
    records = JSON.parse(storage?.getItem(kept) ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(records)) records = [records];
  const known = [];
  for (const record of records) {
    const seed = typeof record?.seed === "string" ? unb64u(record.seed) : null;
    if (typeof record?.id === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(record.id) && seed?.length === 32) {
      known.push({ id: record.id, seed });
    }
  }
  return known;
}

function claimed(locks, name) {
  // Without Web Locks (an old browser) every tab takes the first id, as before them.
  if (locks === undefined || locks === null) return Promise.resolve(true);
  return new Promise((resolve) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        // Held for as long as this page lives.
        return lock === null ? undefined : new Promise(() => {});
      })
      .catch(() => resolve(true));
  });
}

export async function sign(signer, message) {
  return new Uint8Array(await subtle.sign("Ed25519", signer.key, message));
}

const publicKeys = new Map();

/** Whether ``signature`` (base64url) is ``key``'s (base64url) Ed25519 signature of ``message``. */
export async function verifies(key, signature, message) {
  const raw = unb64u(key);
  const sig = unb64u(signature);
  if (raw?.length !== 32 || sig?.length !== 64) return false;
  let imported = publicKeys.get(key);
  if (imported === undefined) {
    try {
      imported = await subtle.importKey("raw", raw, "Ed25519", false, ["verify"]);
    } catch {
      return false;
    }
    publicKeys.set(key, imported);
  }
  return subtle.verify("Ed25519", imported, sig, message);
}

/** What ``sealed`` holds, or null when it does not open under ``key`` and ``aad``. */
export async function open(key, sealed, aad) {
  const raw = typeof sealed === "string" ? unb64u(sealed) : null;
  if (raw === null || raw.length < NONCE_BYTES + TAG_BYTES) return null;
  try {
    const params = { name: "AES-GCM", iv: raw.subarray(0, NONCE_BYTES), additionalData: aad };
    return new Uint8Array(await subtle.decrypt(params, key, raw.subarray(NONCE_BYTES)));
  } catch {
    return null;
  }
}

export async function seal(key, plaintext, aad) {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const params = { name: "AES-GCM", iv: nonce, additionalData: aad };
  const sealed = new Uint8Array(await subtle.encrypt(params, key, plaintext));
  const whole = new Uint8Array(NONCE_BYTES + sealed.length);
  whole.set(nonce);
  whole.set(sealed, NONCE_BYTES);
  return b64u(whole);
}

export const eventAad = (session, sender, id) => joined("pairup event v4", session, sender, id);
export const nameAad = (session, participant) => joined("pairup name v4", session, participant);

export function helloTranscript(challenge, session, participant, identity, role) {
  return joined("pairup hello v4", challenge, session, participant, identity, role);
}
