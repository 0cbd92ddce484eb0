// Who is calling: the bootstrap admin token (Worker secret), an API token from D1 (hash lookup),
// or nobody. Node tokens are checked by the cluster's Durable Object on the heartbeat path (no D1
// round trip per beat) and are refused on every other route.
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Context } from "hono";
import { tokens } from "../db/schema.js";
import type { Env } from "../env.js";
import { ApiError } from "./problem.js";
import { constantTimeEqual, sha256Hex } from "./tokens.js";

export type Role = "admin" | "operator" | "viewer";
export type Principal =
  | { kind: Role; tokenId: string; siteId: string | null; /** The token's own rate limit; null: the defaults. */ ratePerMinute?: number | null }
  | { kind: "node"; tokenId: string; clusterId: string; nodeName: string };

export type AppEnv = { Bindings: Env; Variables: { principal: Principal } };

const RANK: Record<Principal["kind"], number> = { node: 0, viewer: 1, operator: 2, admin: 3 };

export function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export async function authenticate(env: Env, header: string | undefined, now: number): Promise<Principal> {
  const token = bearer(header);
  if (!token) throw new ApiError(401, "Unauthorized", { detail: "send 'Authorization: Bearer <token>'" });
  if (env.ADMIN_TOKEN && constantTimeEqual(token, env.ADMIN_TOKEN)) return { kind: "admin", tokenId: "admin:bootstrap", siteId: null };
  const hash = await sha256Hex(token);
  const row = await drizzle(env.DB)
    .select()
    .from(tokens)
    .where(and(eq(tokens.hash, hash), isNull(tokens.revokedAt)))
    .get();
  if (!row || (row.expiresAt !== null && row.expiresAt <= now)) {
    throw new ApiError(401, "Unauthorized", { detail: "unknown, revoked or expired token" });
  }
  if (row.kind === "node") return { kind: "node", tokenId: row.id, clusterId: row.clusterId ?? "", nodeName: row.nodeName ?? "" };
  return { kind: row.kind, tokenId: row.id, siteId: row.siteId, ratePerMinute: row.ratePerMinute };
}

/** Require at least `role`; with `siteId`, a site-scoped token must match it. */
export function requireRole(c: Context<AppEnv>, role: Role, siteId?: string): Principal & { kind: Role } {
  const p = c.get("principal");
  if (p.kind === "node") throw new ApiError(403, "Forbidden", { detail: "node tokens may only heartbeat and watch as their own node" });
  if (RANK[p.kind] < RANK[role]) throw new ApiError(403, "Forbidden", { detail: `this needs a ${role} token; yours is ${p.kind}` });
  if (siteId !== undefined && p.siteId !== null && p.siteId !== siteId) {
    throw new ApiError(403, "Forbidden", { detail: `your token is scoped to site '${p.siteId}'` });
  }
  return p;
}

/**
 * Like requireRole for a resource that belongs to `siteId`, where null means "every site": only
 * unscoped tokens may touch such a resource.
 */
export function requireRoleFor(c: Context<AppEnv>, role: Role, siteId: string | null): Principal & { kind: Role } {
  const p = requireRole(c, role, siteId ?? undefined);
  if (siteId === null && p.siteId !== null) {
    throw new ApiError(403, "Forbidden", { detail: `your token is scoped to site '${p.siteId}'; this resource spans every site` });
  }
  return p;
}

export function actorOf(p: Principal): string {
  return p.kind === "node" ? `node:${p.nodeName}` : `${p.kind}:${p.tokenId}`;
}
