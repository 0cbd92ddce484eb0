// The reconcile loop: make the node match what the core says it holds — VIPs, load-balancing
// tables on the director, data-service appliers — and fence groups this node let go of. Every
// command goes through the one CommandRunner. Runs one pass at a time.
import type { DesiredGroup } from "../protocol/heartbeat.js";
import { IpvsReconciler } from "./apply/lvs-ipvs.js";
import { NftablesReconciler } from "./apply/lvs-nftables.js";
import { virtualServices } from "./apply/lvs.js";
import { type ApplyContext, fenceHooksFor, groupAppliersFor } from "./apply/types.js";
import { VipReconciler, type VipWanted } from "./apply/vip.js";
import type { CommandRunner } from "./command-runner.js";
import type { ShimConfig } from "./config.js";
import { log } from "./log.js";

export interface ReconcileInput {
  /** Groups in the desired state. */
  groups: DesiredGroup[];
  /** Groups this node holds now (role holder, valid lease). */
  holding: DesiredGroup[];
  /** Every group this node knows of (desired and once held): their interfaces are read back. */
  known: DesiredGroup[];
  /**
   * Groups this node has just taken (not yet in a heartbeat): `served` is called once what serves
   * all of them is in place, so the new holder reports at once (the control plane's availability
   * ledger counts a group down until its new holder says it holds it).
   */
  taken?: { groups: string[]; served: () => void };
}

export class NodeReconciler {
  readonly ctx: ApplyContext;
  private readonly vip: VipReconciler;
  private readonly ipvs: IpvsReconciler;
  private readonly nft: NftablesReconciler;
  private chain: Promise<void> = Promise.resolve();
  private nftUsed = false;
  private ipvsUsed = false;
  /** What the VIP/LB reconcilers last applied completely, and when. */
  private appliedKey: string | null = null;
  private appliedAt = -Infinity;

  constructor(
    runner: CommandRunner,
    private readonly cfg: ShimConfig,
    private readonly clock: () => number,
  ) {
    this.vip = new VipReconciler(runner, { reannounceMs: cfg.reannounceSeconds * 1000, arpCount: 2 });
    this.ipvs = new IpvsReconciler(runner, { drainMs: cfg.lbDrainSeconds * 1000 });
    this.nft = new NftablesReconciler(runner);
    this.ctx = { runner, settings: cfg.settings };
  }

  iface(g: DesiredGroup): string {
    return this.cfg.interface ?? g.interface;
  }

  /** Reconcile runs one at a time; callers may await the run that includes their change. */
  enqueue(input: () => ReconcileInput): Promise<void> {
    this.chain = this.chain.then(() => this.reconcile(input())).catch((err) => log("reconcile failed", { error: (err as Error).message }));
    return this.chain;
  }

  /** Lease expiry fast path: this group's VIP goes before anything else runs. */
  async removeVip(g: DesiredGroup): Promise<void> {
    await this.vip.remove({ vip: g.vip, prefix: g.prefix, iface: this.iface(g) });
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

  private async reconcile({ groups, holding, known, taken }: ReconcileInput): Promise<void> {
    // A group is served once its VIP is up (stage 0); a director's once its table is in place too
    // (1); a data service's once its appliers have run (2), e.g. the MySQL writer made writable.
    const stageOf = (g: DesiredGroup) => (groupAppliersFor(g.mode).length ? 2 : g.mode === "active-active-lb" ? 1 : 0);
    const last = taken ? Math.max(0, ...holding.filter((g) => taken.groups.includes(g.name)).map(stageOf)) : -1;
    const reached = (stage: number) => {
      if (stage === last) taken!.served();
    };
    const wanted: VipWanted[] = holding.map((g) => ({ vip: g.vip, prefix: g.prefix, iface: this.iface(g) }));
    const ifaces = new Set<string>(known.map((g) => this.iface(g)));
    if (this.cfg.interface) ifaces.add(this.cfg.interface);
    // Load balancing only on the director, only while it holds the VIP.
    const lbGroups = groups.filter((g) => g.mode === "active-active-lb");
    const backends = new Set(lbGroups.map((g) => g.lb?.backend ?? "nftables"));
    const services = virtualServices(holding);
    const nftServices = services.filter((s) => holding.find((g) => g.name === s.group)?.lb?.backend === "nftables");
    const ipvsServices = services.filter((s) => holding.find((g) => g.name === s.group)?.lb?.backend === "ipvs");
    // Reading the kernel's state costs a process per table: do it when what we want changed, and
    // every resyncSeconds to repair drift. A lease expiry removes its VIP directly (fast path).
    const key = JSON.stringify([wanted, [...ifaces], nftServices, ipvsServices]);
    const now = this.clock();
    if (key !== this.appliedKey || now - this.appliedAt >= this.cfg.resyncSeconds * 1000) {
      await this.vip.reconcile(wanted, [...ifaces]);
      reached(0);
      if (backends.has("nftables") || this.nftUsed) {
        this.nftUsed = true;
        await this.nft.reconcile(nftServices);
      }
      if (backends.has("ipvs") || this.ipvsUsed) {
        this.ipvsUsed = true;
        await this.ipvs.reconcile(ipvsServices);
      }
      // Only a complete pass counts as applied: a throw above leaves the key stale, so the next
      // reconcile tries again.
      this.appliedKey = key;
      this.appliedAt = now;
      reached(1);
    } else {
      reached(0);
      reached(1);
    }
    for (const g of groups) {
      for (const apply of groupAppliersFor(g.mode)) {
        try {
          await apply(g, holding.includes(g), this.ctx);
        } catch (err) {
          log("apply failed", { group: g.name, mode: g.mode, error: (err as Error).message });
        }
      }
    }
    reached(2);
  }
}
