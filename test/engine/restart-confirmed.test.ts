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
    sh.beat("server1", 2100, { probes: { api: OK } });
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
});
