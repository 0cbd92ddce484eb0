// After a restart of the control plane (worker/engine/state.ts, boot): a holder whose grant was
// reported up before still counts as serving; one whose grant was never reported up (or a group
// that had no holder) must report it before the availability ledger counts the group up.
import { describe, expect, it } from "vitest";
import type { ProbeReport } from "../../protocol/heartbeat.js";
import { Shell, smallSpec } from "./support/small-spec.js";

const OK: ProbeReport = { healthy: true, detail: "ok" };
const open = (sh: Shell) => sh.state.persisted.ledger.api?.open;

function granted(report: boolean): Shell {
  const sh = new Shell(smallSpec());
  sh.beat("server1", 0, { probes: { api: OK } });
  sh.beat("server2", 0, { probes: { api: OK } });
  expect(sh.holder("api")).toBe("server1");
  sh.beat("server1", 1000, { probes: { api: OK }, ...(report ? { holding: [{ group: "api", epoch: 1 }] } : {}) });
  return sh;
}

describe("restart: what counts as reported up", () => {
  it("a grant reported up before the restart still counts as serving after it", () => {
    const sh = granted(true);
    expect(open(sh)).toMatchObject({ kind: "up", cause: "held" });
    sh.restart(2000);
    expect(sh.state.groups.api!.confirmedEpoch).toBe(1);
    expect(sh.state.groups.api!.phase).toBe("held");
    sh.beat("server1", 2100, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(open(sh)).toMatchObject({ kind: "up", cause: "held" });
  });

  it("a grant never reported up still waits for the report after the restart", () => {
    const sh = granted(true);
    // Moved to server2 (epoch 2), which has not reported it up yet.
    sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 1100);
    sh.beat("server1", 1200, { probes: { api: OK }, released: [{ group: "api", epoch: 1 }] });
    sh.beat("server2", 1300, { probes: { api: OK } });
    expect(sh.holder("api")).toBe("server2");
    expect(open(sh)).toMatchObject({ cause: "unconfirmed", reason: "api granted to server2 at epoch 2; not yet reported up" });
    sh.restart(2000);
    expect(sh.state.groups.api!.confirmedEpoch).toBe(-1);
    sh.beat("server2", 2100, { probes: { api: OK } });
    expect(open(sh)).toMatchObject({ cause: "unconfirmed" });
    sh.beat("server2", 2200, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    expect(open(sh)).toMatchObject({ kind: "up", cause: "held" });
  });

  it("a group without a holder at the restart is free, and its first holder must report it up", () => {
    const sh = granted(true);
    // server1 leaves, server2 is in maintenance: nobody can hold api.
    sh.run({ type: "maintenance", node: "server2", on: true, actor: "op" }, 1100);
    sh.beat("server1", 1200, { probes: { api: OK }, leaving: true, released: [{ group: "api", epoch: 1 }] });
    expect(sh.holder("api")).toBeNull();
    expect(open(sh)?.cause).toBe("no-holder");
    sh.restart(2000);
    expect(sh.state.groups.api).toMatchObject({ holder: null, phase: "free", confirmedEpoch: -1 });
  });

  it("a holder that lets go but cannot remove its address: unserved from the heartbeat that says so, not only from the grant (the lab's (k))", () => {
    const sh = granted(true);
    sh.run({ type: "switchover", group: "api", to: "server2", actor: "op" }, 1100);
    // server1 made the VIP inert, but `ip addr del` fails: not holding, unreleased; the lease is waited out.
    sh.beat("server1", 1200, { probes: { api: OK }, holding: [], unreleased: [{ group: "api", epoch: 1, detail: "ip: RTNETLINK answers: Operation not permitted" }] });
    expect(sh.holder("api")).toBe("server1");
    expect(open(sh)).toMatchObject({ kind: "planned", start: 1200, cause: "let-go", reason: "server1 no longer serves api (epoch 1): its VIP is inert" });
    // The lease runs out (last renewal at 1000: 1000 + 3000 + 500), server2 gets it and reports it up.
    for (let t = 1300; t < 4500; t += 400) sh.beat("server2", t, { probes: { api: OK } });
    sh.tick(4500);
    expect(sh.holder("api")).toBe("server2");
    sh.beat("server2", 4600, { probes: { api: OK }, holding: [{ group: "api", epoch: 2 }] });
    expect(open(sh)).toMatchObject({ kind: "up", cause: "held", start: 4600 });
    // The planned gap ran from 1 200, when server1 stopped serving, to 4 600.
    const intervals = Object.values(sh.state.ledger.months).flatMap((m) => JSON.parse(JSON.stringify(m)) as unknown);
    expect(JSON.stringify(intervals)).toMatch(/"start":1200,"end":4600/);
  });

  it("a holder whose heartbeat lists the group again (its lease renewed in time after all) counts as serving again", () => {
    const sh = granted(true);
    sh.beat("server1", 2000, { probes: { api: OK }, holding: [] });
    expect(open(sh)).toMatchObject({ kind: "down", start: 2000, cause: "let-go" });
    sh.beat("server1", 2300, { probes: { api: OK }, holding: [{ group: "api", epoch: 1 }] });
    expect(open(sh)).toMatchObject({ kind: "up", cause: "held", start: 2300 });
  });
});
