// The demo's shims run in dry-run on this machine and read its kernel's load-balancing table as a
// director does before it changes anything. A kernel without IPVS (containers, CI runners, this
// lab's kernel) cannot answer `ipvsadm -Sn`, so the example's portal director would report
// "cannot apply lb" on every pass and the demo cluster would never look healthy. The demo
// therefore loads its lb groups with a backend this host can read, says so, and leaves the spec
// file alone. Where neither table can be read (no root), nothing is changed and the reason is
// printed: the portal then shows degraded, which is what a real shim would report here.
import { spawnSync } from "node:child_process";

export type LbBackend = "ipvs" | "nftables";

/** Per backend: null when this host can read its table, else why not (the command's own words). */
export type HostLbReadable = Record<LbBackend, string | null>;

/** The read each backend's reconciler starts with (node-shim/apply/lvs-ipvs.ts, lvs-nftables.ts). */
const READS: Record<LbBackend, [string, string[]]> = {
  ipvs: ["ipvsadm", ["-Sn"]],
  nftables: ["nft", ["list", "tables"]],
};

export function probeHostLb(): HostLbReadable {
  const out = {} as HostLbReadable;
  for (const [backend, [cmd, args]] of Object.entries(READS) as [LbBackend, [string, string[]]][]) {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "pipe"] });
    if (r.error) out[backend] = `\`${cmd}\` could not run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
    else if (r.status !== 0) out[backend] = `\`${[cmd, ...args].join(" ")}\` exited ${r.status ?? r.signal}: ${r.stderr.trim().split("\n")[0] ?? ""}`;
    else out[backend] = null;
  }
  return out;
}

/**
 * The spec as the demo loads it on this host: each lb group whose backend this host cannot read
 * moves to one it can. `raw` is the spec file as parsed (not yet validated: the control plane
 * validates it); a copy is returned, with one line per change for the operator.
 */
export function specForDemoHost(raw: unknown, host: HostLbReadable): { spec: unknown; notes: string[] } {
  if (!isRecord(raw) || !Array.isArray(raw.groups)) return { spec: raw, notes: [] };
  const notes: string[] = [];
  const groups = raw.groups.map((g: unknown) => {
    if (!isRecord(g) || g.mode !== "active-active-lb") return g;
    const lb = isRecord(g.lb) ? g.lb : {};
    const wanted: LbBackend = lb.backend === "ipvs" ? "ipvs" : "nftables";
    const why = host[wanted];
    if (why === null) return g;
    const other: LbBackend = wanted === "ipvs" ? "nftables" : "ipvs";
    if (host[other] !== null) {
      notes.push(`${String(g.name)}: this host cannot read its ${wanted} table (${why}) nor ${other}'s (${host[other]}); its director will show that as an apply error`);
      return g;
    }
    notes.push(`${String(g.name)}: balanced with ${other} in the demo, not ${wanted}: this host cannot read its ${wanted} table (${why})`);
    return { ...g, lb: { ...lb, backend: other } };
  });
  return { spec: { ...raw, groups }, notes };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
