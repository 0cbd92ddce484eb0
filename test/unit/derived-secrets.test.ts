// Secrets derived from CHIME_SECRET_KEYS (worker/secrets/keyring.ts): HMAC-SHA256 of the label
// under each key, current first, so a rotation adds the new secret in front of the old one.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { derivedSecrets } from "../../worker/secrets/keyring.js";

const K1 = Buffer.alloc(32, 1).toString("base64");
const K2 = Buffer.alloc(32, 2).toString("base64");
const expected = (keyB64: string, label: string) => createHmac("sha256", Buffer.from(keyB64, "base64")).update(label).digest("base64url");

describe("derived secrets", () => {
  it("one per key, current first, distinct per label, none without keys", async () => {
    const env = { CHIME_SECRET_KEYS: `k2:${K2},k1:${K1}` };
    expect(await derivedSecrets(env, "failsafe:dc1.a")).toEqual([expected(K2, "failsafe:dc1.a"), expected(K1, "failsafe:dc1.a")]);
    expect((await derivedSecrets(env, "failsafe:dc1.b"))[0]).not.toBe((await derivedSecrets(env, "failsafe:dc1.a"))[0]);
    expect(await derivedSecrets({}, "failsafe:dc1.a")).toEqual([]);
  });
});
