// Key rotation for secrets at rest: every sealed value (webhook signing secrets in D1, fence
// credentials in D1 specs and in each cluster's Durable Object) re-sealed under the current key,
// and a count of values per key, so an operator knows when an old key can leave CHIME_SECRET_KEYS.
import { eq } from "drizzle-orm";
import type { SecretsReport } from "../../protocol/api.js";
import { ClusterSpec } from "../../protocol/spec.js";
import { db } from "../db/registry.js";
import { clusters, webhooks } from "../db/schema.js";
import type { Env } from "../env.js";
import { currentKeyId, reseal, sealedWith } from "./keyring.js";
import { resealSpec, specEnvelopes } from "./spec-secrets.js";

export const webhookSecretContext = (id: string) => `webhook:${id}:secret`;

const count = (byKey: Record<string, number>, value: string) => {
  const k = sealedWith(value) ?? "(not encrypted)";
  byKey[k] = (byKey[k] ?? 0) + 1;
};

/** Re-seal everything under the current key (`apply`), or only count (report). */
export async function secretsPass(env: Env, apply: boolean): Promise<SecretsReport> {
  const d = db(env);
  const byKey: Record<string, number> = {};
  const failed: { place: string; error: string }[] = [];
  let resealed = 0;
  for (const w of await d.select({ id: webhooks.id, secret: webhooks.secret }).from(webhooks).all()) {
    if (w.secret === null) continue;
    let value = w.secret;
    if (apply) {
      try {
        value = await reseal(env, w.secret, webhookSecretContext(w.id));
        if (value !== w.secret) {
          await d.update(webhooks).set({ secret: value }).where(eq(webhooks.id, w.id));
          resealed++;
        }
      } catch (err) {
        failed.push({ place: `webhook ${w.id}`, error: (err as Error).message });
      }
    }
    count(byKey, value);
  }
  for (const c of await d.select({ id: clusters.id, spec: clusters.spec, specVersion: clusters.specVersion }).from(clusters).all()) {
    let spec = ClusterSpec.parse(c.spec);
    if (apply) {
      try {
        const next = await resealSpec(env, c.id, spec);
        if (JSON.stringify(next) !== JSON.stringify(spec)) {
          await d.update(clusters).set({ spec: next }).where(eq(clusters.id, c.id));
          resealed += specEnvelopes(spec).filter((v, i) => v !== specEnvelopes(next)[i]).length;
        }
        spec = next;
      } catch (err) {
        failed.push({ place: `cluster ${c.id} (registry)`, error: (err as Error).message });
      }
    }
    for (const v of specEnvelopes(spec)) count(byKey, v);
    // The Durable Object keeps its own copy of the spec.
    const stub = env.CLUSTER.get(env.CLUSTER.idFromName(c.id));
    try {
      const held = apply ? await stub.resealSecrets() : { envelopes: [] as string[] };
      for (const v of held.envelopes) count(byKey, v);
    } catch (err) {
      failed.push({ place: `cluster ${c.id} (Durable Object)`, error: (err as Error).message });
    }
  }
  return { currentKey: currentKeyId(env), byKey, resealed, failed };
}
