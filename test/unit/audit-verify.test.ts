// `npm run audit:verify` checks an NDJSON export offline with the same chain code the Worker uses.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { AUDIT_GENESIS, type AuditEntry, auditHash } from "../../protocol/audit.js";
import { REPO_ROOT } from "../support/control-plane.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "chime-audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function chain(n: number): Promise<AuditEntry[]> {
  const rows: AuditEntry[] = [];
  let prev = AUDIT_GENESIS;
  for (let id = 1; id <= n; id++) {
    const f = { id, at: 1_700_000_000_000 + id, source: "api" as const, actor: "admin:tok_1", action: "POST /v1/sites", target: "/v1/sites", status: 201, detail: `row ${id}` };
    const hash = await auditHash(prev, f);
    rows.push({ ...f, prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

async function verifyFile(rows: AuditEntry[]): Promise<{ code: number; out: string }> {
  const file = join(dir, `export-${Math.random()}.ndjson`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  try {
    const r = await run(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/audit-verify.ts", file], { cwd: REPO_ROOT });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, out: e.stderr };
  }
}

describe("npm run audit:verify", () => {
  it("accepts an intact export, names an edited row and the row after a removed one", { timeout: 30_000 }, async () => {
    const rows = await chain(5);
    const ok = await verifyFile(rows);
    expect(ok).toEqual({ code: 0, out: `ok: 5 rows; head 5 ${rows[4]!.hash}\n` });
    const edited = rows.map((r) => (r.id === 3 ? { ...r, detail: "changed" } : r));
    expect(await verifyFile(edited)).toEqual({ code: 1, out: "NOT OK after 2 good rows: row 3: its hash does not match its content: the row was changed after it was written\n" });
    const gap = rows.filter((r) => r.id !== 2);
    expect((await verifyFile(gap)).out).toMatch(/row 3: its prev_hash does not match row 1's hash/);
  });
});
