// Does another host's VIP answer? A member that does not hold a group connects to the group's VIP
// on its service port once per probe interval and remembers when it last got an answer. The
// heartbeat reports how long ago that was (`vipAnswered`), and the control plane's availability
// ledger uses it for the one thing it cannot see itself: a holder whose shim went silent (killed,
// stopped) keeps serving until the kernel ends its lease, so its outage begins at the last answer
// its peers saw, not at its last heartbeat (worker/engine/ledger.ts).
//
// Only what clients would see counts: a connection accepted, or refused by the address's host
// (it answers; the service may be restarting). No answer in time, or no route, is no answer.
// The socket is bound to this node's own address (the desired state's `ip`): the check stays on
// the cluster's LAN, and where this process does not own that address (a test driving a shim
// from outside its namespace) nothing is sent at all. mysql-writer groups are not checked: a
// connection closed before MySQL's handshake counts against max_connect_errors, and enough of
// them would block this peer (its replication) at the writer.
import { connect } from "node:net";
import type { VipAnswer } from "../protocol/heartbeat.js";
import { log } from "./log.js";

export interface VipTarget {
  group: string;
  vip: string;
  port: number;
  intervalMs: number;
}

interface Watched {
  target: VipTarget;
  timer: NodeJS.Timeout;
  lastAnswerAt: number | null;
  running: boolean;
}

export class VipAnswerChecks {
  private watched = new Map<string, Watched>();
  private localAddress: string | null = null;
  private warned = new Set<string>();

  constructor(
    private readonly clock: () => number,
    /** Whether this node holds the group now (its own VIP is no news). */
    private readonly holds: (group: string) => boolean,
  ) {}

  /** Check these targets from `localAddress` (none, or no address: stop checking). */
  watch(targets: VipTarget[], localAddress: string | null): void {
    if (localAddress !== this.localAddress) {
      this.stop();
      this.localAddress = localAddress;
    }
    if (localAddress === null) return;
    const want = new Map(targets.map((t) => [t.group, t]));
    for (const [group, w] of this.watched) {
      const t = want.get(group);
      if (!t || t.vip !== w.target.vip || t.port !== w.target.port || t.intervalMs !== w.target.intervalMs) {
        clearInterval(w.timer);
        this.watched.delete(group);
      }
    }
    for (const [group, target] of want) {
      if (this.watched.has(group)) continue;
      const w: Watched = { target, lastAnswerAt: null, running: false, timer: setInterval(() => void this.check(w), target.intervalMs) };
      w.timer.unref();
      this.watched.set(group, w);
    }
  }

  /** Per watched group, ms before `now` of the last answer (groups never answered, or not for `withinMs`, are left out). */
  report(now: number, withinMs: number): VipAnswer[] {
    const out: VipAnswer[] = [];
    for (const [group, w] of this.watched) {
      if (w.lastAnswerAt === null || this.holds(group)) continue;
      const ago = Math.max(0, Math.round(now - w.lastAnswerAt));
      if (ago <= withinMs) out.push({ group, agoMs: ago });
    }
    return out;
  }

  stop(): void {
    for (const w of this.watched.values()) clearInterval(w.timer);
    this.watched.clear();
  }

  private check(w: Watched): Promise<void> {
    // One connection at a time per group: a check that has not finished skips its turn.
    if (w.running || this.localAddress === null) return Promise.resolve();
    if (this.holds(w.target.group)) {
      w.lastAnswerAt = null;
      return Promise.resolve();
    }
    w.running = true;
    const { vip, port, intervalMs, group } = w.target;
    const startedAt = this.clock();
    return new Promise<void>((resolve) => {
      const sock = connect({ host: vip, port, localAddress: this.localAddress ?? undefined });
      const done = (answered: boolean) => {
        clearTimeout(timer);
        sock.destroy();
        // An answer proves the VIP was up when the connection was being made: date it at the start.
        if (answered && this.watched.get(group) === w) w.lastAnswerAt = startedAt;
        w.running = false;
        resolve();
      };
      const timer = setTimeout(() => done(false), Math.max(50, intervalMs - 10));
      sock.once("connect", () => done(true));
      sock.once("error", (e) => {
        const code = (e as NodeJS.ErrnoException).code ?? "";
        if (code === "EADDRNOTAVAIL" && !this.warned.has(this.localAddress ?? "")) {
          this.warned.add(this.localAddress ?? "");
          log("vip checks: this host does not own its node address; not checking", { address: this.localAddress });
        }
        done(code === "ECONNREFUSED");
      });
    });
  }
}
