// Layer-4 load balancing of active-active-lb groups on the director (the VIP holder). Two
// backends implement the same desired state: IPVS (ipvsadm) and nftables (DNAT).
import type { DesiredGroup } from "../../protocol/heartbeat.js";
import type { Reconciler } from "./types.js";

export interface VirtualService {
  /** Group name, for logs and nft comments. */
  group: string;
  vip: string;
  port: number;
  realPort: number;
  protocol: "tcp" | "udp";
  scheduler: "rr" | "wrr" | "sh";
  reals: { ip: string; weight: number }[];
}

export type LvsReconciler = Reconciler<VirtualService[]>;

/** Desired virtual services for the groups this node directs (holds with a valid lease). */
export function virtualServices(groups: DesiredGroup[]): VirtualService[] {
  const out: VirtualService[] = [];
  for (const g of groups) {
    if (!g.lb) continue;
    for (const p of g.ports) {
      out.push({
        group: g.name,
        vip: g.vip,
        port: p.port,
        realPort: p.realPort ?? p.port,
        protocol: p.protocol,
        scheduler: g.lb.scheduler,
        reals: g.lb.realServers.map((r) => ({ ip: r.ip, weight: r.weight })),
      });
    }
  }
  return out;
}
