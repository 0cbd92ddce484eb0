// The shim against a control plane from before protocol versions (strict v1 request schema): the
// first v2 heartbeat is refused for its `protocol` key, the shim drops to v1 at once and keeps
// beating. And a rotated token written to the token file is used from the next beat on.
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ShimAgent } from "../../node-shim/agent.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { parseShimConfig, tokenSource } from "../../node-shim/config.js";
import { HeartbeatRequest, PROTOCOL_VERSION } from "../../protocol/heartbeat.js";

const dir = mkdtempSync(join(tmpdir(), "chime-shim-compat-"));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A v1 control plane: strict request schema without `protocol`, v1 replies. */
const V1Request = HeartbeatRequest.omit({ protocol: true });

async function fakeV1ControlPlane() {
  const seen: { protocol: unknown; status: number; token: string }[] = [];
  const server = createServer((req, res) => {
    // The watch socket is not served here (the shim retries it in the background).
    if (req.method !== "POST") return void res.writeHead(404).end();
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
      const json = JSON.parse(body || "{}") as Record<string, unknown>;
      const parsed = V1Request.safeParse(json);
      const status = parsed.success ? 200 : 400;
      seen.push({ protocol: json.protocol, status, token });
      res.writeHead(status, { "content-type": status === 200 ? "application/json" : "application/problem+json" });
      if (!parsed.success) return res.end(JSON.stringify({ title: "Invalid heartbeat", status: 400, errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) }));
      res.end(JSON.stringify({ grants: [], desired: { cluster: "dc1.c", node: "server1", specVersion: 1, heartbeatIntervalMs: 100, leaseTtlMs: 1000, maintenance: false, groups: [], operations: [], failsafe: false } }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe("shim compatibility", () => {
  it(`speaks v${PROTOCOL_VERSION}, drops to v1 for a control plane that predates versions, and picks up a rotated token file`, async () => {
    const cp = await fakeV1ControlPlane();
    const tokenFile = join(dir, "node-token");
    writeFileSync(tokenFile, "old-token\n", { mode: 0o600 });
    const config = parseShimConfig(JSON.stringify({ controlPlaneUrl: cp.url, cluster: "dc1.c", node: "server1", tokenFile, dryRun: true }));
    const reloads: string[] = [];
    const agent = new ShimAgent({ config, token: tokenSource(config, (f) => reloads.push(f)), runner: new CommandRunner("recording") });
    agent.start();
    try {
      for (let i = 0; i < 100 && cp.seen.filter((s) => s.status === 200).length < 3; i++) await sleep(50);
      // Rotation: the new token replaces the file atomically, as `install`/operators do.
      writeFileSync(`${tokenFile}.new`, "new-token\n", { mode: 0o600 });
      renameSync(`${tokenFile}.new`, tokenFile);
      const mark = cp.seen.length;
      for (let i = 0; i < 100 && cp.seen.slice(mark).filter((s) => s.status === 200).length < 3; i++) await sleep(50);
    } finally {
      await agent.stop(false);
    }
    expect(cp.seen[0]).toMatchObject({ protocol: PROTOCOL_VERSION, status: 400 });
    expect(cp.seen.slice(1).every((s) => s.protocol === undefined && s.status === 200)).toBe(true);
    expect(cp.seen.filter((s) => s.status === 200).length).toBeGreaterThanOrEqual(6);
    const tokens = cp.seen.map((s) => s.token);
    const firstNew = tokens.indexOf("new-token");
    expect(firstNew).toBeGreaterThan(0);
    expect(tokens.slice(0, firstNew).every((t) => t === "old-token")).toBe(true);
    expect(tokens.slice(firstNew).every((t) => t === "new-token")).toBe(true);
    expect(reloads).toEqual([tokenFile]);
  });

  it("keeps the last good token while the token file is missing or empty", () => {
    const f = join(dir, "t2");
    writeFileSync(f, "a\n");
    const get = tokenSource(parseShimConfig(JSON.stringify({ controlPlaneUrl: "http://127.0.0.1:1", cluster: "a.b", node: "n1", tokenFile: f })));
    expect(get()).toBe("a");
    writeFileSync(f, "");
    expect(get()).toBe("a");
    rmSync(f);
    expect(get()).toBe("a");
    writeFileSync(f, "b\n");
    expect(get()).toBe("b");
  });
});
