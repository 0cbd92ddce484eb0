// A node that has just taken groups reports so once what serves them is in place, and not before:
// the control plane's availability ledger ends the outage at that report. A VIP-only group is
// served once its address is up in the kernel (the core's part: the agent passes only such groups,
// so at once, before the director's table is read); a director's once its table is in place; a
// data service's once its applier has run.
import { describe, expect, it } from "vitest";
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import { registerGroupApplier } from "../../node-shim/apply/types.js";
import { CommandRunner } from "../../node-shim/command-runner.js";
import { parseShimConfig } from "../../node-shim/config.js";
import { NodeReconciler } from "../../node-shim/reconcile.js";

const cfg = parseShimConfig("controlPlaneUrl: http://127.0.0.1:1\ncluster: a.b\nnode: server1\ntoken: x\n");
const probe = { type: "tcp", port: 8801 } as DesiredGroup["probe"];
const base = { prefix: 24, interface: "eth0", probe, member: true, role: "holder", epoch: 1, holder: "server1" } as const;
const api: DesiredGroup = { ...base, name: "server-api", mode: "active-standby", vip: "10.0.0.10", ports: [{ port: 8801 }] } as DesiredGroup;
const portal: DesiredGroup = {
  ...base,
  name: "portal",
  mode: "active-active-lb",
  vip: "10.0.0.20",
  ports: [{ port: 80, realPort: 8033 }],
  lb: { backend: "nftables", scheduler: "wrr", realServers: [{ node: "server1", ip: "10.0.0.11", weight: 1 }] },
} as DesiredGroup;
const db: DesiredGroup = { ...base, name: "mysql", mode: "mysql-writer", vip: "10.0.0.30", ports: [{ port: 3306 }] } as DesiredGroup;
// The data service's applier, as a command the recording runner sees.
registerGroupApplier("mysql-writer", async (g, holding, ctx) => {
  if (holding) await ctx.runner.run("promote", [g.name]);
});

/** Reconcile `holding` having just taken `taken`; the commands run before `served` was called. */
async function servedAfter(holding: DesiredGroup[], taken: string[]): Promise<{ before: string[]; all: string[]; calls: number }> {
  const runner = new CommandRunner("recording");
  const rec = new NodeReconciler(runner, cfg, () => 1000, () => true);
  let before: string[] | null = null;
  let calls = 0;
  await rec.enqueue(() => ({ groups: holding, holding, taken: { groups: taken, served: () => ((before ??= runner.lines()), calls++) } }));
  return { before: before ?? [], all: runner.lines(), calls };
}

describe("a new holder reports once what serves the groups it took is in place", () => {
  it("a VIP-only group (its address already up in the kernel): at once, before the director's table is read", async () => {
    const r = await servedAfter([api, portal], ["server-api"]);
    expect(r.calls).toBe(1);
    expect(r.before).toEqual([]);
    expect(r.all.some((l) => l.startsWith("nft"))).toBe(true);
  });

  it("the director of a balanced group: once its table is in place too", async () => {
    const r = await servedAfter([api, portal], ["server-api", "portal"]);
    expect(r.calls).toBe(1);
    expect(r.before.some((l) => l.startsWith("nft"))).toBe(true);
    expect(r.before).toEqual(r.all);
  });

  it("a data service: once its applier has run", async () => {
    const r = await servedAfter([api, db], ["mysql"]);
    expect(r.calls).toBe(1);
    expect(r.before.at(-1)).toBe("promote mysql");
  });

});
