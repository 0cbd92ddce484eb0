// Shadow mode in the lab: keepalived (tuned: VRRPv3 at the heartbeat interval, process tracking)
// holds the VIPs and acts; chime-ha's shims run beside it in shadow mode against the real control
// plane and act on nothing. Through (a) service death, (b) node crash and (c) link down, the
// shadow report must list each keepalived move of the API VIP with chime-ha's decision: who it
// would have moved the group to, and how long before or after keepalived.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ShadowReport } from "../../protocol/api.js";
import { Lab, LAB_POLICY, labMissing } from "./lab.js";
import { SCENARIOS } from "./scenarios.js";

const missing = await labMissing("both");
if (missing && process.env.CI === "true") throw new Error(`lab cannot run: ${missing}`);

describe.runIf(missing === null)("chime-ha shadowing keepalived in the lab", () => {
  const lab = new Lab({ system: "keepalived-tuned", shadow: true, octet: 75, policy: LAB_POLICY, verbose: process.env.LAB_VERBOSE === "1" });

  beforeAll(async () => {
    await lab.start();
  }, 180_000);

  afterAll(async () => {
    await lab.stop();
  }, 60_000);

  it("(a)-(c): every keepalived move of the API VIP is listed with chime-ha's decision, agreement and time difference; the shims touched no VIP", async () => {
    for (const id of ["a", "b", "c"] as const) {
      const r = await SCENARIOS.find((s) => s.id === id)!.run(lab);
      // keepalived acted: the service came back (its own figures are bench:failover's business).
      expect(r.downtimeMs, r.detail).not.toBeNull();
    }
    // Reports of the last move may still be on their way.
    await new Promise((r) => setTimeout(r, 1000));
    const res = await lab.api("GET", `/v1/clusters/${encodeURIComponent(lab.clusterId)}/shadow`);
    expect(res.status).toBe(200);
    const report = res.body as ShadowReport;
    const api = report.groups.find((g) => g.group === "server-api")!;
    console.log(
      `shadow report (server-api):\n${api.entries.map((e) => `  ${new Date(e.keepalived?.at ?? e.chimeHa!.at).toISOString().slice(11, 23)} ${e.verdict}: ${e.text}`).join("\n")}\n  ${JSON.stringify(api.summary)}`,
    );
    expect(api.shadow).toBe(true);
    // The first sighting, then one move per scenario, each paired with chime-ha's own.
    const moves = api.entries.filter((e) => e.keepalived && !e.keepalived.initial && !e.keepalived.dual);
    expect(moves.length).toBe(3);
    for (const m of moves) {
      expect(m.verdict, m.text).toBe("agreed");
      expect(m.chimeHa!.to).toBe(m.keepalived!.to);
      expect(typeof m.deltaMs).toBe("number");
    }
    expect(api.summary).toMatchObject({ keepalivedMoves: 3, agreed: 3, disagreed: 0, splitBrain: 0 });
    // The VIPs on the hosts were keepalived's alone: labelled :ka, never chime-ha's :cha.
    for (const h of ["s1", "s2"] as const) expect(await lab.inNs(h, ["ip", "-o", "-4", "addr", "show", "label", "*:cha"])).toBe("");
  }, 240_000);
});
