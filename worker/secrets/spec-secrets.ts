// Fence credentials in a cluster spec (nodes[].fence.password, nodes[].fence.authorization): sealed
// before the spec is stored (D1 and the Durable Object keep only envelopes), shown as REDACTED by
// the API, and opened only in the heartbeat reply to the node that runs the fence.
import type { ClusterSpec } from "../../protocol/spec.js";
import type { Operation } from "../../protocol/heartbeat.js";
import { ApiError } from "../http/problem.js";
import { isSealed, open, reseal, seal, type SecretEnv } from "./keyring.js";

/** What the API shows instead of a stored secret; sending it back keeps the stored value. */
export const REDACTED = "(stored encrypted)";

type Field = "password" | "authorization";
const FIELDS: Field[] = ["password", "authorization"];

const contextOf = (clusterId: string, node: string, field: Field) => `cluster:${clusterId}:nodes.${node}.fence.${field}`;

type FenceWithSecrets = { password?: string; authorization?: string };

function eachSecret(spec: ClusterSpec, fn: (fence: FenceWithSecrets, node: string, field: Field, index: number) => void): void {
  spec.nodes.forEach((n, i) => {
    const fence = n.fence as FenceWithSecrets | undefined;
    if (!fence) return;
    for (const f of FIELDS) if (fence[f] !== undefined) fn(fence, n.name, f, i);
  });
}

/**
 * The spec as it is stored: every fence credential sealed. REDACTED keeps the credential stored
 * for that node and field in `previous` (a spec read from the API and sent back unchanged).
 */
export async function sealSpec(env: SecretEnv, clusterId: string, spec: ClusterSpec, previous?: ClusterSpec): Promise<ClusterSpec> {
  const out = structuredClone(spec);
  const work: Promise<void>[] = [];
  eachSecret(out, (fence, node, field, i) => {
    const value = fence[field]!;
    if (value === REDACTED) {
      const prev = previous?.nodes.find((n) => n.name === node)?.fence as FenceWithSecrets | undefined;
      if (prev?.[field] === undefined) throw new ApiError(400, "Invalid cluster spec", { errors: [{ path: `spec.nodes[${i}].fence.${field}`, message: `'${REDACTED}' keeps a stored value, but node ${node} has none: send the value itself` }] });
      fence[field] = prev[field];
      return;
    }
    if (isSealed(value)) throw new ApiError(400, "Invalid cluster spec", { errors: [{ path: `spec.nodes[${i}].fence.${field}`, message: "send the credential itself; the control plane encrypts it" }] });
    work.push(seal(env, value, contextOf(clusterId, node, field)).then((sealed) => void (fence[field] = sealed)));
  });
  await Promise.all(work);
  return out;
}

/** The spec as the API shows it: credentials replaced by REDACTED. */
export function redactSpec<T>(spec: T): T {
  const s = structuredClone(spec) as unknown as ClusterSpec;
  if (!Array.isArray(s?.nodes)) return spec;
  eachSecret(s, (fence, _node, field) => void (fence[field] = REDACTED));
  return s as unknown as T;
}

/** Every credential re-sealed under the current key (rotation); unchanged ones keep their envelope. */
export async function resealSpec(env: SecretEnv, clusterId: string, spec: ClusterSpec): Promise<ClusterSpec> {
  const out = structuredClone(spec);
  const work: Promise<void>[] = [];
  eachSecret(out, (fence, node, field) => {
    work.push(reseal(env, fence[field]!, contextOf(clusterId, node, field)).then((v) => void (fence[field] = v)));
  });
  await Promise.all(work);
  return out;
}

/** Envelopes in a spec, for rotation reports. */
export function specEnvelopes(spec: ClusterSpec): string[] {
  const out: string[] = [];
  eachSecret(spec, (fence, _node, field) => void out.push(fence[field]!));
  return out;
}

/**
 * Operations as the executing node receives them: credentials opened. One that does not open
 * (its key is gone) is sent without it; the shim then reports the fence failed, which is loud.
 */
export async function openOperations(env: SecretEnv, clusterId: string, ops: Operation[]): Promise<Operation[]> {
  return Promise.all(
    ops.map(async (op) => {
      if (op.kind !== "fence-ipmi" && op.kind !== "fence-webhook") return op;
      const field: Field = op.kind === "fence-ipmi" ? "password" : "authorization";
      const value = (op as FenceWithSecrets)[field];
      if (value === undefined) return op;
      try {
        return { ...op, [field]: await open(env, value, contextOf(clusterId, op.target, field)) } as Operation;
      } catch (err) {
        console.error(JSON.stringify({ msg: "fence credential does not open", cluster: clusterId, node: op.target, error: String(err) }));
        const { [field]: _dropped, ...rest } = op as Operation & FenceWithSecrets;
        return rest as Operation;
      }
    }),
  );
}
