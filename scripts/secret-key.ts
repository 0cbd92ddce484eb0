// `npm run secrets:new-key`: one new CHIME_SECRET_KEYS entry (`<id>:<base64 32 random bytes>`).
// Rotation: put it first in the secret, keep the old entries, call POST /v1/admin/secrets/rotate,
// then drop the old entries (README "Secrets at rest").
import { randomBytes } from "node:crypto";

export function newSecretKeyEntry(now = new Date()): string {
  const id = `k${now.toISOString().slice(0, 10).replace(/-/g, "")}${randomBytes(2).toString("hex")}`;
  return `${id}:${randomBytes(32).toString("base64")}`;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(newSecretKeyEntry());
