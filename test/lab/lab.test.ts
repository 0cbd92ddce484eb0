// The lab, once per scenario on chime-ha (real Worker in workerd in its own namespace, real
// shims and stand-in services on two server hosts, a client host; no default route anywhere).
// Asserts safety (0 split-brain instants: never the VIP on both servers, never answers flipping
// back) and liveness (service back within lease TTL + 2 s), not speed ratios: those are
// `npm run bench:failover`'s job.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, labMissing, LAB_POLICY, policySummary, SERVERS } from "./lab.js";
import { drillInLab } from "./drill.js";
import { addLedger, agreementMs, ledgerAgrees } from "./ledger.js";
import { livenessMs, type RunResult, SCENARIOS, type ScenarioId } from "./scenarios.js";

/** The last `n` lines of a log file ("" when it is not there). */
const tail = (file: string, n: number) => {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
};

const missing = await labMissing("chime-ha");
if (missing && process.env.CI === "true") throw new Error(`lab cannot run: ${missing}`);

describe.runIf(missing === null)("failover lab on chime-ha (one run per scenario)", () => {
  const lab = new Lab({ system: "chime-ha", octet: 72, policy: LAB_POLICY, verbose: process.env.LAB_VERBOSE === "1" });
  const LIVENESS_MS = livenessMs(lab);
  const results: RunResult[] = [];

  beforeAll(async () => {
    await lab.start();
  }, 180_000);

  afterAll(async () => {
    if (results.length) {
      console.log(
        `lab figures (${policySummary(lab.policy)}):\n` +
          results.map((r) => `  (${r.scenario}) downtime ${r.downtimeMs ?? "NOT BACK"} ms${r.ledgerDowntimeMs !== undefined ? ` (ledger ${r.ledgerDowntimeMs ?? "?"} ms)` : ""}, failed requests ${r.failures}/${r.requests} (${r.laterFailures} after recovery), dual-VIP ${r.dualVipInstants} effective / ${r.dualConfigured} configured, dual-MAC ARP rounds ${r.dualMac}, interleaved ${r.interleaved}${r.extra ? ` ${JSON.stringify(r.extra)}` : ""} — ${r.detail}`).join("\n"),
      );
    }
    await lab.stop();
  }, 60_000);

  it("no host namespace has a default route; clients and services live only inside the lab", async () => {
    for (const h of ["cp", ...SERVERS, "c"] as const) expect(await lab.inNs(h, ["ip", "route", "show", "default"])).toBe("");
    // The control plane listens on its namespace address, not on the root namespace's loopback.
    expect(lab.cp!.url).toBe(`http://${lab.ip.cp}:8787`);
  });

  const run = async (id: ScenarioId): Promise<RunResult> => {
    const r = await addLedger(lab, await SCENARIOS.find((s) => s.id === id)!.run(lab));
    results.push(r);
    // The control plane's availability ledger says what the client saw, within max(10 %, 300 ms).
    if (r.ledgerWindow) {
      expect(r.ledgerDowntimeMs, `ledger not read: ${r.detail}`).not.toBeNull();
      const said = `ledger ${r.ledgerDowntimeMs} ms vs client ${r.downtimeMs} ms (allowed ${agreementMs(r.downtimeMs ?? 0)} ms): ${r.detail}; ledger: ${r.ledgerIntervals?.join("; ") || "nothing"}`;
      // (In (d) and (k) the old holder stops serving (VIP inert) before it can report the release,
      // or while it cannot remove its address: the ledger counts from the heartbeat that says it no
      // longer holds the group (cause let-go), not only from the grant elsewhere.)
      expect(ledgerAgrees(r), said).toBe(true);
    }
    return r;
  };
  const safe = (r: RunResult) => {
    expect(r.dualVipInstants, `VIP effective on both servers: ${r.detail}`).toBe(0);
    expect(r.dualMac, `two MACs answered ARP for one VIP: ${r.detail}`).toBe(0);
    expect(r.interleaved, `answers flipped back: ${r.detail}`).toBe(0);
  };
  const live = (r: RunResult) => {
    expect(r.downtimeMs, r.detail).not.toBeNull();
    expect(r.backAfterMs!, r.detail).toBeLessThanOrEqual(LIVENESS_MS);
  };

  for (const id of ["a", "b", "c"] as const) {
    it(`(${id}) ${SCENARIOS.find((s) => s.id === id)!.title}: the standby serves within TTL + 2 s, never two holders`, async () => {
      const r = await run(id);
      safe(r);
      live(r);
      // The client moved exactly once: old holder (maybe), then the new one.
      expect(r.answered.length).toBeLessThanOrEqual(2);
      if (id === "a") {
        // The holder whose service died handed the group straight to its peer (direct handoff),
        // not through the control plane.
        const logs = SERVERS.map((h) => readFileSync(lab.logFile(h, "shim"), "utf8")).join("\n");
        expect(logs).toMatch(/"msg":"took group by direct handoff","group":"server-api"/);
      }
    });
  }

  it("(d) holder cut off from the control plane only: it keeps serving on its peer's failsafe promise; after the cut heals the control plane's move takes at most TTL + 2 s; never two holders", async () => {
    const r = await run("d");
    safe(r);
    expect(r.downtimeMs, r.detail).not.toBeNull();
    expect(r.downtimeMs!, r.detail).toBeLessThanOrEqual(LIVENESS_MS);
    expect(r.answered.length).toBeLessThanOrEqual(2);
  });

  it("(e) planned switchover through the API: moves without waiting for a lease, never two holders", async () => {
    const r = await run("e");
    safe(r);
    live(r);
    // `released` is reported only once the address is verified gone: never configured on both.
    expect(r.dualConfigured, r.detail).toBe(0);
    // A planned move does not wait out the lease (TTL + drift margin).
    expect(r.downtimeMs!).toBeLessThan(LAB_POLICY.leaseTtlMs + LAB_POLICY.driftMarginMs);
  });

  it("(f) control plane SIGKILLed and restarted: the VIP never moves to the other server", async () => {
    const r = await run("f");
    safe(r);
    expect(r.downtimeMs, r.detail).not.toBeNull();
    expect(r.answered.length, `answered by ${r.answered}`).toBeLessThanOrEqual(1);
    // Whatever the outage of the control plane, service is back within TTL + 2 s of it answering again.
    expect(r.extra!.backAfterCpUpMs!).toBeGreaterThanOrEqual(0);
    expect(r.extra!.backAfterCpUpMs!).toBeLessThanOrEqual(LIVENESS_MS);
  });

  it("(g) a recovered node does not take the VIP back: no failed request while it boots", async () => {
    const r = await run("g");
    safe(r);
    expect(r.downtimeMs, r.detail).toBe(0);
    expect(r.failures).toBe(0);
    expect(r.answered.length).toBe(1);
  });

  it("(h) portal: a dead real server leaves the pool; no failed request after detection", async () => {
    const r = await run("h");
    safe(r);
    // Detection: probe fall x interval, a heartbeat, the director's table update.
    expect(r.extra!.lastFailureAfterKillMs!).toBeLessThanOrEqual(LIVENESS_MS);
    // After the last failure: only good answers, from the surviving real server, for seconds.
    expect(r.extra!.goodRequestsAfterLastFailure!).toBeGreaterThan(50);
    expect(r.answered.length).toBe(1);
  });

  it("(u) the holder's shim upgraded in place under client load: never on two hosts", async () => {
    const r = await run("u");
    safe(r);
    // The kernel ends the old process's lease element at its lease end (send + TTL - shim margin,
    // 650 ms here, renewed once more on the way out) and the control plane moves the group after
    // TTL + margin (950 ms): the new process must start and heartbeat before then for the VIP to
    // stay put without a gap. The single executable takes about that long to start on this loaded
    // 2-core machine, so with the lab policy a short gap, or even a move, happens (README,
    // "Installing and upgrading the agent"); with the defaults a restart has 2.8 s.
    console.log(`(u): VIP inert on the old holder for ${r.extra!.vipAbsentSamples! * 10} ms; answered by ${r.answered.join(" -> ")}`);
  });

  it("a failover drill through the API: to the other server and back, measured, planned time only, never two holders; refused with the reason while the standby's service is down", async () => {
    const d = await drillInLab(lab);
    console.log(`lab drill: ${d.result?.reason ?? "no result"}; client answered by ${d.answered.join(" -> ")}; ledger planned ${d.plannedMs} ms, down ${d.downMs} ms; then: ${d.refused.detail}`);
    expect(d.accepted.status, d.accepted.detail).toBe(200);
    expect(d.result?.reason).toMatch(/^drill of server-api passed: moved (server\d) -> (server\d) in \d+ ms \(\d+ ms without service\); back \2 -> \1 in \d+ ms \(\d+ ms without service\) after 3\.\d s$/);
    const [from, to] = /moved (server\d) -> (server\d)/.exec(d.result?.reason ?? "")?.slice(1) ?? [];
    expect(d.answered).toEqual([from, to, from]);
    expect(d.dualVipInstants).toBe(0);
    expect(d.downMs).toBe(0);
    expect(d.plannedMs).toBeGreaterThan(0);
    expect(d.plannedBy).toEqual(["drill", "drill"]);
    expect(d.refused.status).toBe(409);
    expect(d.refused.detail).toMatch(new RegExp(`^drill of server-api refused: ${d.standby}'s probe for server-api is failing`));
    expect(d.refusedEvent?.reason).toBe(d.refused.detail);
  });

  // The agent's own failures (issue 9) and "stop means go": the kernel and the control plane keep
  // one VIP on one host whatever the shim does; service back within TTL + 2 s.
  for (const id of ["i", "j", "k", "l", "m"] as const) {
    it(`(${id}) ${SCENARIOS.find((s) => s.id === id)!.title}: never two holders, service back within TTL + 2 s`, async () => {
      const r = await run(id);
      try {
        safe(r);
        live(r);
        expect(r.answered.length).toBeLessThanOrEqual(2);
        // Stop means go: released (so the peer got it at once) only once the addresses were gone.
        if (id === "m") expect(r.dualConfigured, r.detail).toBe(0);
      } catch (err) {
        // These faults are the shim's own: what each shim logged is the first thing to read.
        console.log(SERVERS.map((h) => `${h} shim log, last 40 lines:\n${tail(lab.logFile(h, "shim"), 40)}`).join("\n"));
        throw err;
      }
    });
  }
});
