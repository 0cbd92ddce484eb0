// Load balancing and data-service appliers follow what the core says this node holds: the
// director's tables (IPVS or nftables DNAT) only while it holds the VIP, and each mode's appliers
// (e.g. mysql read_only) on every pass. VIPs themselves are the core's (core/kernel.ts,
// apply/vip.ts). Fence hooks run when the core says a group's VIP is inert here. Every command goes
// through the one CommandRunner; passes run one at a time.
import type { ApplyError, DesiredGroup } from "../protocol/heartbeat.js";
import { IpvsReconciler } from "./apply/lvs-ipvs.js";
import { NftablesReconciler } from "./apply/lvs-nftables.js";
import { virtualServices } from "./apply/lvs.js";
import { type ApplyContext, fenceHooksFor, groupAppliersFor } from "./apply/types.js";
import type { CommandError, CommandRunner } from "./command-runner.js";
import type { ShimConfig } from "./config.js";
import { log } from "./log.js";

export interface ReconcileInput {
  /** Groups in the desired state. */
  groups: DesiredGroup[];
  /** Groups this node holds now (role holder, valid lease). */
  holding: DesiredGroup[];
  /**
   * Groups this node has just taken (not yet in a heartbeat), their VIPs up in the kernel already:
   * `served` is called once what serves all of them is in place, so the new holder reports at once
   * (the control plane's availability ledger counts a group down until its new holder says it holds it).
   */
  taken?: { groups: string[]; served: () => void };
}

export class NodeReconciler {
  readonly ctx: ApplyContext;
  private readonly ipvs: IpvsReconciler;
  private readonly nft: NftablesReconciler;
  private chain: Promise<void> = Promise.resolve();
  private nftUsed = false;
  private ipvsUsed = false;
  /** What the LB reconcilers last applied completely, and when. */
  private appliedKey: string | null = null;
  private appliedAt = -Infinity;

  constructor(
    runner: CommandRunner,
    private readonly cfg: ShimConfig,
    private readonly clock: () => number,
    /** Whether this node holds `group` at this very moment (asked right before irreversible steps). */
    private readonly holds: (group: string) => boolean,
  ) {
    this.ipvs = new IpvsReconciler(runner, { drainMs: cfg.lbDrainSeconds * 1000 });
    this.nft = new NftablesReconciler(runner);
    this.ctx = { runner, settings: cfg.settings, holds };
  }

  /** Passes run one at a time; `input` is read when the pass starts. */
  enqueue(input: () => ReconcileInput): Promise<void> {
    this.chain = this.chain.then(() => this.reconcile(input())).catch((err) => log("reconcile failed", { error: (err as Error).message }));
    return this.chain;
  }

  /** Failures that last (dropped once the same target applies cleanly), for the heartbeat's applyErrors. */
  private readonly failures = new Map<string, ApplyError>();

  private failed(key: string, group: string | undefined, target: string, err: unknown): void {
    const e = err as Error & Partial<Pick<CommandError, "command" | "result">>;
    const command = e.command ? [e.command.cmd, ...e.command.args].join(" ") : e.message;
    const since = this.failures.get(key)?.since ?? Date.now();
    this.failures.set(key, { ...(group ? { group } : {}), target, command: command.slice(0, 500), exitCode: e.result?.code ?? null, stderrTail: (e.result?.stderr ?? e.message).trim().slice(-500), since });
  }

  /** Apply failures that persist now (load balancing, data-service appliers). */
  applyErrors(): ApplyError[] {
    return [...this.failures.values()];
  }

  /** Run the group's fence hooks (e.g. mysql read_only); failures are logged. */
  async fence(g: DesiredGroup, why: string): Promise<void> {
    for (const hook of fenceHooksFor(g.mode)) {
      try {
        await hook(g, this.ctx);
        log("fenced", { group: g.name, mode: g.mode, why });
      } catch (err) {
        log("fence failed", { group: g.name, mode: g.mode, why, error: (err as Error).message });
      }
    }
  }

  private async reconcile({ groups, holding, taken }: ReconcileInput): Promise<void> {
    // A group is served once its VIP is up (stage 0: the kernel's part, done before the agent asks);
    // a director's once its table is in place too (1); a data service's once its appliers have run
    // (2), e.g. the MySQL writer made writable.
    const stageOf = (g: DesiredGroup) => (groupAppliersFor(g.mode).length ? 2 : g.mode === "active-active-lb" ? 1 : 0);
    const last = taken ? Math.max(0, ...holding.filter((g) => taken.groups.includes(g.name)).map(stageOf)) : -1;
    const reached = (stage: number) => {
      if (stage === last) taken!.served();
    };
    reached(0);
    // Load balancing only on the director, only while it holds the VIP (checked again right
    // before the rules are written).
    const lbGroups = groups.filter((g) => g.mode === "active-active-lb");
    const backends = new Set(lbGroups.map((g) => g.lb?.backend ?? "nftables"));
    const directing = () => holding.filter((g) => this.holds(g.name));
    const services = virtualServices(holding);
    const nftServices = services.filter((s) => holding.find((g) => g.name === s.group)?.lb?.backend === "nftables");
    const ipvsServices = services.filter((s) => holding.find((g) => g.name === s.group)?.lb?.backend === "ipvs");
    // Reading the kernel's state costs a process per table: do it when what we want changed, and
    // every resyncSeconds to repair drift.
    const key = JSON.stringify([nftServices, ipvsServices]);
    const now = this.clock();
    if (key !== this.appliedKey || now - this.appliedAt >= this.cfg.resyncSeconds * 1000) {
      const still = new Set(directing().map((g) => g.name));
      try {
        if (backends.has("nftables") || this.nftUsed) {
          this.nftUsed = true;
          await this.nft.reconcile(nftServices.filter((s) => still.has(s.group)));
        }
        if (backends.has("ipvs") || this.ipvsUsed) {
          this.ipvsUsed = true;
          await this.ipvs.reconcile(ipvsServices.filter((s) => still.has(s.group)));
        }
        this.failures.delete("lb");
      } catch (err) {
        // Reported in the heartbeat while it lasts (the director cannot program its balancer).
        this.failed("lb", lbGroups.find((g) => still.has(g.name))?.name, "lb", err);
        throw err;
      }
      // Only a complete pass counts as applied: a throw above leaves the key stale, so the next
      // reconcile tries again.
      this.appliedKey = still.size === new Set(holding.map((g) => g.name)).size ? key : null;
      this.appliedAt = now;
      reached(1);
    } else {
      reached(1);
    }
    for (const g of groups) {
      for (const apply of groupAppliersFor(g.mode)) {
        try {
          await apply(g, holding.includes(g) && this.holds(g.name), this.ctx);
          this.failures.delete(`apply:${g.name}`);
        } catch (err) {
          log("apply failed", { group: g.name, mode: g.mode, error: (err as Error).message });
          this.failed(`apply:${g.name}`, g.name, g.mode, err);
        }
      }
    }
    reached(2);
  }
}
