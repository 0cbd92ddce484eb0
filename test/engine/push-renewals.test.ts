// A push carries grants only for groups granted in that very step (worker/engine/step.ts): a
// change of a holder's desired state (maintenance, a switchover elsewhere) is pushed without
// grants; its lease is renewed only in the reply to its own heartbeat.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const pushes = (r: ReturnType<Shell["run"]>) => r.effects.flatMap((e) => (e.type === "push" ? [e] : []));

describe("pushes without grants", () => {
  it("maintenance turned on is pushed to every node, the holder included, without renewing its lease", () => {
    const sh = new Shell(smallSpec());
    for (let t = 0; t <= 1000; t += 1000) {
      sh.beat("server1", t, { bootId: "b1", probes: { api: OK } });
      sh.beat("server2", t, { bootId: "b2", probes: { api: OK } });
    }
    expect(sh.holder("api")).toBe("server1");
    const r = sh.run({ type: "maintenance", node: null, on: true, actor: "op" }, 1500);
    expect(pushes(r)).toEqual([
      { type: "push", node: "server1" },
      { type: "push", node: "server2" },
      { type: "push", node: "node1" },
    ]);
    expect(sh.state.groups.api!.leaseUntil).toBe(4000);
    expect(r.reply).toBeUndefined();
  });
});
