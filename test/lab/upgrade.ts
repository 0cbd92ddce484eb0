// Scenario (u): the holder's shim is upgraded in place under client load, the way
// `chime-ha-shim upgrade` does it on a node (node-shim/install/upgrade.ts): a handover marker for
// the running process, SIGTERM (it stops without releasing: the VIP stays), and the new
// executable — here the single executable `npm run build:shim` just built — started at once; it
// adopts the VIP with its first heartbeat. Nothing may fail on the client and the VIP may not
// move.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeHandover } from "../../node-shim/install/handover.js";
import { SHIM_SEA_NODE_OPTIONS } from "../../scripts/build-shim-flags.js";
import { REPO_ROOT } from "../support/control-plane.js";
import { answerers, dualMac, dualVip, interleavedAnswers, outage } from "./analyze.js";
import { API_BIT, NODE_OF, PORTAL_BIT, type Lab } from "./lab.js";
import type { RunResult, Scenario } from "./scenarios.js";

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SEA = join(REPO_ROOT, `dist/chime-ha-shim-linux-${process.arch}`);
let built: Promise<string> | null = null;

/** The single executable from the current source, built once per process. */
export function buildSea(): Promise<string> {
  built ??= exec(process.execPath, [join(REPO_ROOT, "node_modules/tsx/dist/cli.mjs"), "scripts/build-shim.ts", "--sea"], { cwd: REPO_ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }).then(async () => (await exec(SEA, ["--version"])).stdout.trim());
  return built;
}

export const upgradeScenario: Scenario = {
  id: "u",
  title: "the holder's shim upgraded in place (handover) under client load",
  notFor: { keepalived: "no in-place upgrade: keepalived drops its VIPs when it stops" },
  run: async (lab: Lab): Promise<RunResult> => {
    const version = await buildSea();
    const h = await lab.waitSteady();
    const oldPid = lab.agentPid(h);
    if (oldPid === null) throw new Error(`(u) no shim runs on ${h}`);
    const safetyFrom = Date.now() - 200;
    const faultAt = Date.now();
    writeHandover(lab.runDir(h), oldPid);
    await lab.stopAgent(h, "SIGTERM");
    const stoppedAt = Date.now();
    await lab.startAgent(h, { command: [SEA], env: { NODE_OPTIONS: SHIM_SEA_NODE_OPTIONS.join(" ") } });
    // Steady again on the same host, with the new process heartbeating (the control plane sees it alive and healthy).
    await sleep(1000);
    const holder = await lab.waitSteady(30_000);
    await sleep(1500);
    const end = Date.now();
    const o = outage(lab.client.api, faultAt, end);
    const portal = outage(lab.client.portal, faultAt, end);
    const dual = dualVip(lab.samples.s1, lab.samples.s2, API_BIT, safetyFrom, end).instants + dualVip(lab.samples.s1, lab.samples.s2, PORTAL_BIT, safetyFrom, end).instants;
    // Effective on the holder all along (configured and leased: the new process renews the lease in time).
    const vipLeft = lab.samples[h].filter((s) => s.t >= faultAt && s.t <= end && (s.effective & (1 << API_BIT)) === 0).length;
    return {
      scenario: "u",
      system: lab.system,
      ...(lab.system === "chime-ha" ? { transport: lab.transport } : {}),
      downtimeMs: o.downtimeMs,
      backAfterMs: o.failures === 0 ? 0 : o.backAt === null ? null : o.backAt - faultAt,
      failures: o.failures + portal.failures,
      requests: o.requests + portal.requests,
      laterFailures: o.laterFailures,
      dualVipInstants: dual,
      dualConfigured: dualVip(lab.samples.s1, lab.samples.s2, API_BIT, safetyFrom, end, 100, "mask").instants + dualVip(lab.samples.s1, lab.samples.s2, PORTAL_BIT, safetyFrom, end, 100, "mask").instants,
      dualMac: dualMac(lab.arp, API_BIT, safetyFrom, end) + dualMac(lab.arp, PORTAL_BIT, safetyFrom, end),
      interleaved: interleavedAnswers(lab.client.api, safetyFrom, end),
      answered: answerers(lab.client.api, faultAt, end),
      extra: { oldShimStoppedAfterMs: stoppedAt - faultAt, vipAbsentSamples: vipLeft, portalFailures: portal.failures },
      ledgerWindow: { from: faultAt, to: end },
      detail: `${NODE_OF[h]}'s shim (pid ${oldPid}) handed over to ${version.split(" (")[0]} single executable; VIP ${holder === h ? `stayed on ${NODE_OF[h]}` : `MOVED to ${NODE_OF[holder]}`}; the old shim stopped ${stoppedAt - faultAt} ms after the handover began`,
    };
  },
};
