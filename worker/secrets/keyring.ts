// Secrets at rest: values the control plane must be able to read back (generic-json signing
// secrets, fence credentials) are stored as AES-256-GCM envelopes under keys held only in the
// Worker secret CHIME_SECRET_KEYS, never in D1 or Durable Object storage.
//
//   CHIME_SECRET_KEYS = "<id>:<base64 32 bytes>[,<id>:<base64 32 bytes>...]"
//
// The first key seals; every listed key opens (by the id in the envelope). Rotation: put the new
// key first and keep the old one, call POST /v1/admin/secrets/rotate (re-seals everything under
// the new key and says how many values still use each key), then drop the old key.
//
// Envelope: `enc:v1:<key id>:<iv, base64url>:<ciphertext+tag, base64url>`, with the value's place
// (`webhook:<id>:secret`, `cluster:<id>:nodes.<node>.fence.password`) as additional data, so an
// envelope copied to another row or field does not open there.
const PREFIX = "enc:v1:";
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface SecretEnv {
  CHIME_SECRET_KEYS?: string;
}

export class SecretKeyError extends Error {}

interface Key {
  id: string;
  raw: Uint8Array;
}

const imported = new Map<string, Promise<CryptoKey>>();

/** The configured keys, current first. Throws SecretKeyError on a malformed setting. */
export function parseKeys(setting: string | undefined): Key[] {
  if (!setting || !setting.trim()) return [];
  return setting.split(",").map((part, i) => {
    const [id, b64, extra] = part.trim().split(":");
    if (!id || !b64 || extra !== undefined || !KEY_ID.test(id)) throw new SecretKeyError(`CHIME_SECRET_KEYS entry ${i + 1} must be <id>:<base64 key> with an id of letters, digits, '-' or '_'`);
    let raw: Uint8Array;
    try {
      raw = fromB64(b64);
    } catch {
      throw new SecretKeyError(`CHIME_SECRET_KEYS key '${id}' is not base64`);
    }
    if (raw.length !== 32) throw new SecretKeyError(`CHIME_SECRET_KEYS key '${id}' must be 32 bytes (AES-256), it is ${raw.length}`);
    return { id, raw };
  });
}

function cryptoKey(k: Key): Promise<CryptoKey> {
  const cacheKey = `${k.id}:${toB64(k.raw)}`;
  let p = imported.get(cacheKey);
  if (!p) imported.set(cacheKey, (p = crypto.subtle.importKey("raw", k.raw, "AES-GCM", false, ["encrypt", "decrypt"])));
  return p;
}

export const isSealed = (value: string): boolean => value.startsWith(PREFIX);

/** The key id an envelope was sealed with (null for a plain value). */
export function sealedWith(value: string): string | null {
  return isSealed(value) ? (value.slice(PREFIX.length).split(":")[0] ?? null) : null;
}

export async function seal(env: SecretEnv, plaintext: string, context: string): Promise<string> {
  const [current] = parseKeys(env.CHIME_SECRET_KEYS);
  if (!current) throw new SecretKeyError("no CHIME_SECRET_KEYS is configured: the control plane cannot store secrets (README: Deploying)");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) }, await cryptoKey(current), new TextEncoder().encode(plaintext));
  return `${PREFIX}${current.id}:${toB64(iv)}:${toB64(new Uint8Array(ct))}`;
}

/**
 * The plaintext of an envelope. A value that is not an envelope is returned as is: secrets
 * stored before encryption existed stay usable until `rotate` seals them.
 */
export async function open(env: SecretEnv, value: string, context: string): Promise<string> {
  if (!isSealed(value)) return value;
  const [id, iv, ct] = value.slice(PREFIX.length).split(":");
  const key = parseKeys(env.CHIME_SECRET_KEYS).find((k) => k.id === id);
  if (!key) throw new SecretKeyError(`secret sealed with key '${id}', which is not in CHIME_SECRET_KEYS`);
  try {
    const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromB64(iv ?? ""), additionalData: new TextEncoder().encode(context) }, await cryptoKey(key), fromB64(ct ?? ""));
    return new TextDecoder().decode(pt);
  } catch {
    throw new SecretKeyError(`secret for ${context} does not open with key '${id}' (altered, or moved from another place)`);
  }
}

/** Re-seal under the current key (plain legacy values get sealed); unchanged if already current. */
export async function reseal(env: SecretEnv, value: string, context: string): Promise<string> {
  const [current] = parseKeys(env.CHIME_SECRET_KEYS);
  if (current && sealedWith(value) === current.id) return value;
  return seal(env, await open(env, value, context), context);
}

/**
 * A secret for `label` derived from each configured key, current first (HMAC-SHA256(key, label),
 * base64url): nothing to store, the same in every isolate, and a key rotation adds the new one in
 * front while the old one is still listed. Used for the failsafe key the shims of a cluster sign
 * their promises with (a derived value reveals nothing about the key).
 */
export async function derivedSecrets(env: SecretEnv, label: string): Promise<string[]> {
  return Promise.all(
    parseKeys(env.CHIME_SECRET_KEYS).map(async (k) => {
      const mac = await crypto.subtle.importKey("raw", k.raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return toB64(new Uint8Array(await crypto.subtle.sign("HMAC", mac, new TextEncoder().encode(label))));
    }),
  );
}

export function currentKeyId(env: SecretEnv): string | null {
  return parseKeys(env.CHIME_SECRET_KEYS)[0]?.id ?? null;
}

function toB64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
