// The demo loads its lb groups with a balancer this host can read, and says so; the spec it was
// given is not modified, and a host that can read neither keeps the spec and says why.
import { describe, expect, it } from "vitest";
import { validateSpec } from "../../protocol/spec.js";
import { loadSpecFile } from "../../scripts/lib/control-plane.js";
import { probeHostLb, specForDemoHost } from "../../scripts/lib/demo-host.js";

const lbBackends = (spec: unknown) =>
  Object.fromEntries((spec as { groups: { name: string; mode: string; lb?: { backend?: string } }[] }).groups.filter((g) => g.mode === "active-active-lb").map((g) => [g.name, g.lb?.backend]));

describe("the demo's balancer on this host", () => {
  it("keeps ipvs where this host reads it", () => {
    const raw = loadSpecFile();
    const { spec, notes } = specForDemoHost(raw, { ipvs: null, nftables: null });
    expect(lbBackends(spec)).toEqual({ portal: "ipvs" });
    expect(notes).toEqual([]);
  });

  it("moves an ipvs group to nftables on a kernel without IPVS, names the reason, and leaves the file's spec as it was", () => {
    const raw = loadSpecFile();
    const before = JSON.stringify(raw);
    const why = "`ipvsadm -Sn` exited 2: Can't initialize ipvs: Protocol not available";
    const { spec, notes } = specForDemoHost(raw, { ipvs: why, nftables: null });
    expect(lbBackends(spec)).toEqual({ portal: "nftables" });
    expect(notes).toEqual([`portal: balanced with nftables in the demo, not ipvs: this host cannot read its ipvs table (${why})`]);
    expect(JSON.stringify(raw)).toBe(before);
    // Still a valid spec: the control plane takes it.
    expect(validateSpec(spec).ok).toBe(true);
  });

  it("changes nothing where neither table can be read, and says the director will report it", () => {
    const { spec, notes } = specForDemoHost(loadSpecFile(), { ipvs: "no IPVS", nftables: "`nft list tables` exited 1: Operation not permitted" });
    expect(lbBackends(spec)).toEqual({ portal: "ipvs" });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^portal: this host cannot read its ipvs table \(no IPVS\) nor nftables's \(`nft list tables` exited 1: Operation not permitted\); its director will show that as an apply error$/);
  });

  it("reads this host with the reconcilers' own first commands", () => {
    const host = probeHostLb();
    expect(Object.keys(host).sort()).toEqual(["ipvs", "nftables"]);
    for (const why of Object.values(host)) if (why !== null) expect(why).toMatch(/^`(ipvsadm|nft)/);
  });
});
