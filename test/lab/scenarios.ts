// The failover scenarios (a)..(m), each one run on a started Lab: inject the fault on the current
// holder, wait for the service to come back, observe, recover the faulted host, wait for the
// steady state again. What the observers recorded is analysed in analyze.ts. (i)-(l) are the
// agent's own failures (issue 9): killed, stopped, `ip` failing, removed from the spec; (m) is
// "stop means go" (SIGTERM on the holder's agent).
import { API_BIT, isKeepalived, type Lab, NODE_OF, other, PORTAL_BIT, type Server, type System, type Transport, waitUntil } from "./lab.js";
import { answerers, dualMac, dualVip, interleavedAnswers, outage } from "./analyze.js";
import { upgradeScenario } from "./upgrade.js";

export type ScenarioId = "a" | "b" | "c" | "d" | "e" | "f" | "g" | "h" | "i" | "j" | "k" | "l" | "m" | "u";

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** Why a system cannot run it (it is then reported n/a). */
  notFor?: Partial<Record<System, string>>;
  run(lab: Lab): Promise<RunResult>;
}

export interface RunResult {
  scenario: ScenarioId;
  system: System;
  /** chime-ha: how the shims heartbeated. */
  transport?: Transport;
  /** Client-visible downtime (ms); null: the service did not come back in time. */
  downtimeMs: number | null;
  /** Fault to the first good answer after the last failure (ms); 0 without failures. */
  backAfterMs: number | null;
  failures: number;
  requests: number;
  /** Failed requests after the service was stable again (isolated blips, e.g. a slow machine). */
  laterFailures: number;
  /** Sample ticks with a VIP effective on both servers (API and portal VIPs). */
  dualVipInstants: number;
  /** Sample ticks with a VIP configured on both servers, effective or not (keepalived: the same). */
  dualConfigured: number;
  /** ARP rounds from the client in which two MACs answered for one VIP. */
  dualMac: number;
  /** Answers that flipped back to a host the client had left (active-standby VIP only). */
  interleaved: number;
  /** Hosts that answered the API VIP during the run, in order. */
  answered: string[];
  detail: string;
  /** Scenario-specific figures (ms), e.g. how long the control plane was down in (f). */
  extra?: Record<string, number>;
  /** chime-ha: the window the control plane's availability ledger is read over (ledger.ts), and what it says. */
  ledgerWindow?: { from: number; to: number };
  ledgerDowntimeMs?: number | null;
  /** Those intervals without service, with the reasons they began and ended (for a failure message). */
  ledgerIntervals?: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The liveness bound the tests assert: service back within TTL + 2 s. */
export const livenessMs = (lab: Lab) => lab.policy.leaseTtlMs + 2000;
/** How long a run waits for the service to come back before it gives up. */
const BACK_TIMEOUT_MS = 15_000;
/** Observation after the service is back, so a flip-back or a late VIP would be seen. */
const SETTLE_MS = 1500;

/** Until the API VIP is answered only by `h` for `forMs` (and the VIP sits on `h`). */
async function waitServedBy(lab: Lab, h: Server, since: number, timeoutMs = BACK_TIMEOUT_MS, forMs = 300): Promise<boolean> {
  try {
    await waitUntil(`API VIP served by ${h}`, () => {
      const now = Date.now();
      const recent = lab.client.api.filter((r) => r.t >= Math.max(since, now - forMs - 250) && r.t <= now - 250);
      return recent.length >= Math.floor(forMs / 20) - 2 && recent.every((r) => r.ok && r.who === NODE_OF[h]) && lab.vipHosts(API_BIT).includes(h);
    }, timeoutMs, 20);
    return true;
  } catch {
    return false;
  }
}

function splitBrain(lab: Lab, from: number, to: number): Pick<RunResult, "dualVipInstants" | "dualConfigured" | "dualMac"> {
  const both = (field: "effective" | "mask") => dualVip(lab.samples.s1, lab.samples.s2, API_BIT, from, to, 100, field).instants + dualVip(lab.samples.s1, lab.samples.s2, PORTAL_BIT, from, to, 100, field).instants;
  return { dualVipInstants: both("effective"), dualConfigured: both("mask"), dualMac: dualMac(lab.arp, API_BIT, from, to) + dualMac(lab.arp, PORTAL_BIT, from, to) };
}

/** `ledgerFrom`: from when the ledger may date this fault's outage (a silent holder's from its last heartbeat). */
function measure(lab: Lab, id: ScenarioId, faultAt: number, end: number, safetyFrom: number, safetyTo: number, detail: string, ledgerFrom = faultAt - 2 * lab.policy.heartbeatIntervalMs): RunResult {
  const o = outage(lab.client.api, faultAt, end);
  return {
    scenario: id,
    system: lab.system,
    ...(lab.system === "chime-ha" ? { transport: lab.transport } : {}),
    downtimeMs: o.downtimeMs,
    backAfterMs: o.failures === 0 ? 0 : o.backAt === null ? null : o.backAt - faultAt,
    failures: o.failures,
    requests: o.requests,
    laterFailures: o.laterFailures,
    ...splitBrain(lab, safetyFrom, safetyTo),
    interleaved: interleavedAnswers(lab.client.api, safetyFrom, safetyTo),
    answered: answerers(lab.client.api, faultAt, end),
    detail,
    ...(lab.system === "chime-ha" ? { ledgerWindow: { from: ledgerFrom, to: end } } : {}),
  };
}

/**
 * The common shape of (a)-(e): fault the holder, wait until the standby serves, settle, recover
 * the old holder, wait for steady state (the old holder must stay standby: no preemption).
 */
async function failover(lab: Lab, id: ScenarioId, fault: (h: Server) => Promise<void>, recover: (h: Server) => Promise<void>, what: string): Promise<RunResult> {
  const h = await lab.waitSteadyForFault();
  const to = other(h);
  const safetyFrom = Date.now() - 200;
  const faultAt = Date.now();
  await fault(h);
  const back = await waitServedBy(lab, to, faultAt);
  await sleep(SETTLE_MS);
  const end = Date.now();
  await recover(h);
  await lab.waitSteady(30_000);
  const r = measure(lab, id, faultAt, end, safetyFrom, Date.now(), `${what} on ${NODE_OF[h]}; ${back ? `${NODE_OF[to]} serving` : `${NODE_OF[to]} NOT serving within ${BACK_TIMEOUT_MS} ms`}`);
  if (!back) r.downtimeMs = null;
  return r;
}

/**
 * chime-ha (d), failsafe on: the holder cut off from the control plane keeps the VIP on its peer's
 * promise (the peer refuses the control plane's grant meanwhile). When the cut heals, the control
 * plane's decision is carried out by release, so the VIP may move once. Downtime and safety are
 * measured over the cut and the healing.
 */
async function holdThroughCut(lab: Lab): Promise<RunResult> {
  const h = await lab.waitSteadyForFault();
  const safetyFrom = Date.now() - 200;
  const faultAt = Date.now();
  await lab.cutFromControlPlane(h);
  await sleep(3 * lab.spec.policy.leaseTtlMs);
  await lab.unblock(h);
  await lab.waitSteady(30_000);
  await sleep(SETTLE_MS);
  const end = Date.now();
  return measure(lab, "d", faultAt, end, safetyFrom, end, `cut from the control plane on ${NODE_OF[h]} for ${3 * lab.spec.policy.leaseTtlMs} ms, then healed; failsafe keeps the VIP on the peer's promise`);
}

export const SCENARIOS: Scenario[] = [
  {
    id: "a",
    title: "active service process killed",
    run: (lab) =>
      failover(
        lab,
        "a",
        (h) => lab.killService(h, "chime-server"),
        (h) => lab.restartService(h, "chime-server"),
        "chime-server SIGKILLed",
      ),
  },
  {
    id: "b",
    title: "node crash (agent + services SIGKILLed, host off the network)",
    run: (lab) =>
      failover(
        lab,
        "b",
        (h) => lab.crash(h),
        (h) => lab.boot(h),
        "crash",
      ),
  },
  {
    id: "c",
    title: "holder's link down",
    run: (lab) =>
      failover(
        lab,
        "c",
        (h) => lab.linkDown(h),
        (h) => lab.linkUp(h),
        "eth0 down",
      ),
  },
  {
    id: "d",
    title: "holder cut off from the control plane only (keepalived: VRRP between servers blocked)",
    run: async (lab) => {
      if (lab.system === "chime-ha") return holdThroughCut(lab);
      // keepalived has no control plane: the equivalent partition is the one VRRP itself uses.
      const h = await lab.waitSteadyForFault();
      const to = other(h);
      const safetyFrom = Date.now() - 200;
      const faultAt = Date.now();
      await lab.blockVrrp(h);
      let dual = false;
      try {
        await waitUntil("VIP on the peer", () => lab.vipHosts(API_BIT).includes(to), BACK_TIMEOUT_MS);
        dual = lab.vipHosts(API_BIT).includes(h);
      } catch {
        // measured below
      }
      await sleep(SETTLE_MS + 1000);
      const end = Date.now();
      await lab.unblock(h);
      await lab.waitSteady(30_000);
      return measure(lab, "d", faultAt, end, safetyFrom, Date.now(), `VRRP blocked on ${NODE_OF[h]}; ${dual ? "both servers MASTER" : "peer took over"}`);
    },
  },
  {
    id: "e",
    title: "planned switchover (chime-ha: API; keepalived: SIGTERM on the master)",
    run: (lab) =>
      failover(
        lab,
        "e",
        async (h) => {
          if (lab.system === "chime-ha") {
            const r = await lab.switchover("server-api", NODE_OF[other(h)]);
            if (r.status !== 200) throw new Error(`switchover refused: ${r.status} ${JSON.stringify(r.body)}`);
          } else await lab.stopAgent(h, "SIGTERM");
        },
        async (h) => {
          if (isKeepalived(lab.system)) await lab.startAgent(h);
        },
        lab.system === "chime-ha" ? "switchover through the API" : "keepalived stopped (SIGTERM)",
      ),
  },
  {
    id: "f",
    title: "control plane killed and restarted: no VIP moves",
    notFor: { keepalived: "no control plane", "keepalived-tuned": "no control plane" },
    run: async (lab) => {
      const h = await lab.waitSteadyForFault();
      const safetyFrom = Date.now() - 200;
      const faultAt = Date.now();
      await lab.cp!.kill();
      await lab.cp!.restart();
      const upAt = Date.now();
      // From the control plane answering again: the holder keeps (or gets back) the VIP; nobody else.
      const back = await waitServedBy(lab, h, faultAt, livenessMs(lab) + 5000);
      await sleep(SETTLE_MS);
      const end = Date.now();
      await lab.waitSteady(30_000);
      const r = measure(lab, "f", faultAt, end, safetyFrom, Date.now(), `control plane SIGKILLed and restarted (down ${upAt - faultAt} ms); ${back ? `${NODE_OF[h]} serving` : "NOT served"}`);
      if (!back) r.downtimeMs = null;
      const o = outage(lab.client.api, faultAt, end);
      r.extra = { cpDownMs: upAt - faultAt, backAfterCpUpMs: o.failures === 0 ? 0 : o.backAt === null ? -1 : Math.max(0, o.backAt - upAt) };
      return r;
    },
  },
  {
    id: "g",
    title: "a recovered node does not take the VIP back",
    run: async (lab) => {
      const h = await lab.waitSteadyForFault();
      const to = other(h);
      await lab.crash(h);
      if (!(await waitServedBy(lab, to, Date.now()))) throw new Error(`(g) ${to} did not take over after the crash of ${h}`);
      await sleep(500);
      const safetyFrom = Date.now() - 200;
      const bootAt = Date.now();
      await lab.boot(h);
      await lab.waitSteady(30_000);
      await sleep(2000);
      const end = Date.now();
      // The crash's own outage ended before the boot: the ledger is read from the boot on.
      const r = measure(lab, "g", bootAt, end, safetyFrom, end, `${NODE_OF[h]} crashed and booted again`, bootAt);
      // Where the VIP is once things are steady (a momentary gap shows in the figures above).
      const holder = await lab.waitSteady(15_000);
      r.detail += holder === to ? `; VIP stayed on ${NODE_OF[to]}` : `; VIP went back to ${NODE_OF[holder]}`;
      if (holder !== to) r.downtimeMs = null;
      return r;
    },
  },
  {
    id: "h",
    title: "portal load balancing: one real server dies",
    notFor: { keepalived: "this kernel has no IPVS (keepalived's load balancer)", "keepalived-tuned": "this kernel has no IPVS (keepalived's load balancer)" },
    run: async (lab) => {
      await lab.waitSteady();
      const director = lab.vipHosts(PORTAL_BIT)[0]!;
      // The real server that is not the director: only the balancing changes, not the VIP.
      const victim = other(director);
      const safetyFrom = Date.now() - 200;
      const faultAt = Date.now();
      await lab.killService(victim, "chime-portal");
      await sleep(4000);
      const end = Date.now();
      const o = outage(lab.client.portal, faultAt, end);
      const lastFail = [...lab.client.portal].filter((x) => x.t >= faultAt && x.t <= end && !x.ok).pop();
      await lab.restartService(victim, "chime-portal");
      await lab.waitSteady(30_000);
      const sb = splitBrain(lab, safetyFrom, Date.now());
      const served = answerers(lab.client.portal, (lastFail?.t ?? faultAt) + 1, end);
      const quietFrom = lastFail ? lastFail.t + 1 : faultAt;
      return {
        extra: { lastFailureAfterKillMs: lastFail ? lastFail.t - faultAt : 0, goodRequestsAfterLastFailure: lab.client.portal.filter((x) => x.t >= quietFrom && x.t <= end && x.ok).length },
        scenario: "h",
        system: lab.system,
        transport: lab.transport,
        // For a pool, "down" is partial: from the kill until the last failed request (about half
        // of the requests fail meanwhile); after that the pool is healed.
        downtimeMs: o.failures === 0 ? 0 : o.backAt === null ? null : lastFail!.t - faultAt,
        backAfterMs: lastFail ? lastFail.t - faultAt : 0,
        failures: o.failures,
        requests: o.requests,
        laterFailures: 0,
        ...sb,
        interleaved: 0,
        answered: served,
        detail: `chime-portal SIGKILLed on ${NODE_OF[victim]} (director ${NODE_OF[director]}); ${o.failures} failed of ${o.requests}, last failure ${lastFail ? lastFail.t - faultAt : 0} ms after the kill; then answered by [${served.join(", ")}]`,
      };
    },
  },
  upgradeScenario,
  {
    id: "i",
    title: "the holder's agent SIGKILLed (host and services alive)",
    run: (lab) =>
      failover(
        lab,
        "i",
        (h) => lab.killAgent(h),
        (h) => lab.startAgent(h),
        lab.system === "chime-ha" ? "shim and its nft/ip sessions SIGKILLed" : "keepalived SIGKILLed",
      ),
  },
  {
    id: "j",
    title: "the holder's agent SIGSTOPped for 3 x TTL, then SIGCONT",
    run: (lab) => stoppedAgent(lab),
  },
  {
    id: "k",
    title: "the holder's `ip` fails while it must release (switchover)",
    notFor: { keepalived: "no fault injection into keepalived's netlink", "keepalived-tuned": "no fault injection into keepalived's netlink" },
    run: async (lab) => {
      const h = await lab.waitSteadyForFault();
      lab.setIpFault(h, true);
      let note = "";
      const r = await failover(
        lab,
        "k",
        async (holder) => {
          const res = await lab.switchover("server-api", NODE_OF[other(holder)]);
          if (res.status !== 200) throw new Error(`switchover refused: ${res.status} ${JSON.stringify(res.body)}`);
        },
        async (holder) => {
          // The address is still configured (inert): once `ip` works again the shim removes it.
          const stuck = lab.vipConfigured(API_BIT).includes(holder);
          lab.setIpFault(holder, false);
          await waitUntil("the old holder's address to go once ip works", () => !lab.vipConfigured(API_BIT).includes(holder), 10_000);
          note = stuck ? "; the old holder kept the (inert) address while ip failed, removed it once ip worked" : "; the old holder's (inert) address was removed by the kernel's address lifetime while ip failed";
        },
        "ip failing (CHIME_SHIM_FAULTS), switchover through the API",
      ).catch((err: Error) => {
        lab.setIpFault(h, false);
        throw err;
      });
      r.detail += note;
      return r;
    },
  },
  {
    id: "l",
    title: "the holder removed from the spec through the API",
    notFor: { keepalived: "no control plane", "keepalived-tuned": "no control plane" },
    run: (lab) =>
      failover(
        lab,
        "l",
        (h) => lab.removeNode(NODE_OF[h]),
        async (h) => {
          await lab.restoreSpec();
          // Its token was revoked with it: it comes back with the new one.
          await lab.killAgent(h);
          await lab.startAgent(h);
        },
        "PUT spec without it",
      ),
  },
  {
    id: "m",
    title: "the holder's agent stopped (SIGTERM): stop means go",
    run: (lab) =>
      failover(
        lab,
        "m",
        (h) => lab.stopAgent(h, "SIGTERM"),
        (h) => lab.startAgent(h),
        lab.system === "chime-ha" ? "shim stopped (SIGTERM: releases, says it is leaving)" : "keepalived stopped (SIGTERM: resigns with priority 0)",
      ),
  },
];

/**
 * (j): the agent's whole process group (the shim with its nft/ip sessions, or keepalived) is
 * SIGSTOPped for 3 x TTL while host and services run on; the peer takes over; then SIGCONT. The
 * dangerous moment is the waking: whatever the stopped agent had queued (renewals in a pipe, a
 * VRRP state it still believes in) must not make the VIP answer there again.
 */
async function stoppedAgent(lab: Lab): Promise<RunResult> {
  const h = await lab.waitSteadyForFault();
  const to = other(h);
  const safetyFrom = Date.now() - 200;
  const faultAt = Date.now();
  const stopMs = 3 * lab.spec.policy.leaseTtlMs;
  lab.signalAgent(h, "SIGSTOP");
  let back = false;
  try {
    back = await waitServedBy(lab, to, faultAt, Math.max(stopMs, BACK_TIMEOUT_MS));
  } finally {
    const left = faultAt + stopMs - Date.now();
    if (left > 0) await sleep(left);
    lab.signalAgent(h, "SIGCONT");
  }
  const contAt = Date.now();
  await sleep(SETTLE_MS + 1000);
  const end = Date.now();
  await lab.waitSteady(30_000);
  const r = measure(lab, "j", faultAt, end, safetyFrom, Date.now(), `${lab.system === "chime-ha" ? "shim and its sessions" : "keepalived"} SIGSTOPped on ${NODE_OF[h]} for ${stopMs} ms, SIGCONT ${contAt - faultAt} ms after; ${back ? `${NODE_OF[to]} serving` : `${NODE_OF[to]} NOT serving`}`);
  if (!back) r.downtimeMs = null;
  return r;
}

