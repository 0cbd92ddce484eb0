// A compute node whose chime-agent is down but whose host answers (worker/engine/compute.ts): one
// warning under its own key and incident, never a fence; resolved once when it runs again. And a
// compute node without a fence is said once at setup.
import { describe, expect, it } from "vitest";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };

describe("chime-agent on a compute node", () => {
  it("down: one warning (its detail, or that the probe fails), not a fence; running again: resolved once", () => {
    const sh = new Shell(smallSpec());
    sh.beat("node1", 0, { probes: { "chime-agent": { healthy: false, detail: "inactive (dead)" } } });
    sh.beat("node1", 1000, { probes: { "chime-agent": { healthy: false, detail: "" } } });
    expect(sh.state.persisted.notes["agent:node1"]).toBe("down");
    expect(sh.events("compute.agent-down").map((e) => [e.severity, e.node, e.incident, e.reason])).toEqual([
      ["warning", "node1", "compute-agent:node1", "node1's chime-agent is down (inactive (dead)) but the host answers: not fencing it; its VMs keep running, unmanaged until chime-agent is back"],
    ]);
    expect(sh.state.persisted.computes.node1!.phase).toBe("alive");
    sh.beat("node1", 2000, { probes: { "chime-agent": OK } });
    sh.beat("node1", 3000, { probes: { "chime-agent": OK } });
    expect(sh.events("compute.agent-down").slice(1).map((e) => [e.severity, e.incident, e.resolves, e.reason])).toEqual([["info", "compute-agent:node1", true, "node1's chime-agent is running again"]]);
    expect(Object.keys(sh.state.persisted.notes)).not.toContain("agent:node1");
  });

  it("down from its first report without a detail: says the probe fails", () => {
    const sh = new Shell(smallSpec());
    sh.beat("node1", 0, { probes: { "chime-agent": { healthy: false, detail: "" } } });
    expect(sh.events("compute.agent-down")[0]!.reason).toBe("node1's chime-agent is down (probe failing) but the host answers: not fencing it; its VMs keep running, unmanaged until chime-agent is back");
  });

  it("a compute node without a fence is said once, under its own key", () => {
    const sh = new Shell(smallSpec({ edit: (s) => void delete (s.nodes!.find((n) => n.name === "node1") as { fence?: unknown }).fence }));
    sh.tick(0);
    sh.tick(1000);
    expect(sh.state.persisted.notes["setup:fence:node1"]).toBe("no-fence");
    expect(sh.events("compute.no-fence").map((e) => [e.severity, e.node])).toEqual([["warning", "node1"]]);
  });
});
