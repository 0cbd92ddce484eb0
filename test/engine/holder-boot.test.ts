// A restarted shim adopts its lease (worker/engine/step.ts): the first renewal answered to a new
// boot of the holder records that boot as the holder's (persisted), so from then on only it may
// release; a stopping process never adopts. And a step returns a reply only to a heartbeat, and a
// `rejected` only when it refused something.
import { describe, expect, it } from "vitest";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK = { healthy: true, detail: "ok" };

function held(): Shell {
  const sh = new Shell(smallSpec());
  sh.beat("server1", 0, { bootId: "b1", probes: { api: OK } });
  sh.beat("server2", 0, { bootId: "c1", probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  expect(sh.state.groups.api!.holderBoot).toBe("b1");
  return sh;
}

describe("holder boot", () => {
  it("a restarted holder's first renewed heartbeat adopts the lease for its new boot, written at once", () => {
    const sh = held();
    const r = sh.beat("server1", 1000, { bootId: "b2", probes: { api: OK } });
    expect(r.reply!.grants.map((g) => g.group)).toEqual(["api"]);
    expect(sh.state.groups.api!.holderBoot).toBe("b2");
    expect(sh.persistsOf(r).map((p) => p.groups.api!.holderBoot)).toEqual(["b2"]);
    // The same boot again: nothing new to write.
    expect(sh.persistsOf(sh.beat("server1", 2000, { bootId: "b2", probes: { api: OK } }))).toEqual([]);
  });

  it("a stopping process never adopts: its late heartbeat must not take the group back", () => {
    const sh = held();
    // Nobody else can take it (server2's probe fails), so the group stays where it is.
    sh.beat("server2", 900, { bootId: "c1", probes: { api: { healthy: false, detail: "down" } } });
    sh.beat("server1", 1000, { bootId: "b3", probes: { api: OK }, leaving: true });
    expect(sh.holder("api")).toBe("server1");
    expect(sh.state.groups.api!.holderBoot).toBe("b1");
  });

  it("a reply only to a heartbeat, and `rejected` only when something was refused", () => {
    const sh = held();
    const tick = sh.tick(500);
    expect("reply" in tick).toBe(false);
    expect("rejected" in tick).toBe(false);
    const beat = sh.beat("server2", 600, { bootId: "c1", probes: { api: OK } });
    expect("reply" in beat).toBe(true);
    expect("rejected" in beat).toBe(false);
    const refused = sh.run({ type: "switchover", group: "nope", to: null, actor: "op" }, 700);
    expect(refused.rejected).toBeDefined();
  });
});
