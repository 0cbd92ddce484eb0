// mysql-writer, topology galera, on a real Galera cluster: two MariaDB 10.11 nodes with Debian's
// galera-4 and garbd (galera-arbitrator-4), each in its own network namespace, under the real
// control plane, with the writer VIP really applied and 8 connections inserting through it.
// The writer VIP is on a Synced node of the Primary component; a writer node that is killed, hung
// (SIGSTOP) or partitioned from the rest loses it; the VIP moves within the bound; no
// acknowledged insert is lost (wsrep is synchronous); a desynced (donor) node is never chosen;
// garbd keeps the quorum but, not being a member, never holds the VIP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalControlPlane, startLocalControlPlane } from "../shim/support/control-plane.js";
import { labUnavailable } from "../shim/support/netns.js";
import { galeraMissing } from "./support/galera.js";
import { mariadbMissing } from "./support/mariadb.js";
import { captureShimLog, LAB_POLICY, MysqlLab } from "./support/mysql-lab.js";
import { galeraDesynced, galeraFault, type Run } from "./support/mysql-scenarios.js";

const missing = mariadbMissing() ?? galeraMissing() ?? (await labUnavailable(["ip", "nft", "arping"]));
if (missing && process.env.CI === "true") throw new Error(`galera test cannot run: ${missing}`);

/** Detection (fall x (interval + timeout)) + a heartbeat + the move + the client's reconnect: well inside TTL + 2 s. */
const BOUND_MS = LAB_POLICY.leaseTtlMs + 2000;

function show(r: Run): void {
  console.log(`${r.scenario}: writer unavailable ${r.unavailableMs} ms through the VIP; ${r.acked} inserts acknowledged at ${r.rate}/s, ${r.lost} lost; ${JSON.stringify(r.facts)}`);
}

describe.runIf(missing === null)("mysql-writer on a real Galera cluster (2 nodes + garbd), writer VIP in network namespaces", () => {
  let cp: LocalControlPlane;
  let lab: MysqlLab;

  beforeAll(async () => {
    captureShimLog();
    cp = await startLocalControlPlane();
    lab = new MysqlLab(cp, `chd-g${process.pid % 100000}-`);
    await lab.build(true);
  }, 150_000);

  afterAll(async () => {
    await lab?.cleanup();
    await cp?.stop();
  });

  for (const fault of ["kill", "stop", "partition"] as const) {
    it(`writer node ${fault === "kill" ? "SIGKILLed" : fault === "stop" ? "hung (SIGSTOP)" : "partitioned from the other node and garbd"}: the VIP moves to the Synced node within the bound, nothing acknowledged is lost`, async () => {
      const r = await galeraFault(lab, fault);
      show(r);
      expect(r.rate).toBeGreaterThanOrEqual(500);
      expect(r.promoted).toBe(true);
      expect(r.lost).toBe(0);
      expect(r.unavailableMs!).toBeLessThanOrEqual(BOUND_MS);
      // db2 and garbd keep the Primary component (2 of 3); garbd counts but is no member, so no VIP.
      expect(r.facts).toMatchObject({ holder: "server2", db2: "Synced, Primary", clusterSize: 2 });
      if (fault === "partition") expect(String(r.facts.db1)).toMatch(/non-Primary/);
    });
  }

  it("a desynced (donor) node is never given the writer VIP; once Synced again it is, and nothing is lost", async () => {
    const r = await galeraDesynced(lab);
    show(r);
    expect(r.heldBack.holder).not.toBe("server2");
    expect(r.heldBack.acksOnDb2).toBe(false);
    expect(r.heldBack.db2).toBe("Donor/Desynced, Primary");
    expect(r.heldBack.reason).toMatch(/server2: galera node not Synced in a Primary component \(Donor\/Desynced, Primary\)/);
    expect(r.promoted).toBe(true);
    expect(r.lost).toBe(0);
  });
});
