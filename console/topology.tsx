// The cluster drawn as the ChimeStack HA guide draws it: the VIPs on top, the server nodes that
// hold them (solid line to the holder, dashed to the standbys, dotted to load-balanced real
// servers), the LAN, and the compute nodes below.
import type { ClusterStatus } from "../protocol/status.js";
import type { ClusterInfo } from "./api.js";

const VIP_W = 132;
const VIP_H = 48;
const NODE_W = 150;
const NODE_H = 58;
const ROW = { vip: 12, server: 150, bus: 250, compute: 290 };

function spread(n: number, width: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i + 0.5) * width) / n);
}

export function Topology(props: { status: ClusterStatus; info: ClusterInfo | null }) {
  const { status } = props;
  const ips = new Map((props.info?.spec.nodes ?? []).map((n) => [n.name, n.ip]));
  const servers = status.nodes.filter((n) => n.role === "server");
  const computes = status.nodes.filter((n) => n.role === "compute");
  const W = Math.max(760, status.groups.length * (VIP_W + 14), servers.length * (NODE_W + 30), computes.length * (NODE_W + 30));
  const H = computes.length ? ROW.compute + NODE_H + 12 : ROW.bus + 20;
  const vx = spread(status.groups.length, W);
  const sx = new Map(servers.map((n, i) => [n.name, spread(servers.length, W)[i]!]));
  const cx = spread(computes.length, W);
  const summary = status.groups.map((g) => `${g.name} VIP ${g.vip} ${g.holder ? `held by ${g.holder}` : "without holder"}`).join("; ");
  return (
    <svg class="topology" viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="topo-title topo-desc" data-testid="topology">
      <title id="topo-title">Topology</title>
      <desc id="topo-desc">{summary}</desc>
      {status.groups.map((g, i) => {
        const x = vx[i]!;
        const reals = new Set((g.realServers ?? []).map((r) => r.split(" ")[0]!));
        return (g.members ?? []).map((m) => {
          const to = sx.get(m.node);
          if (to === undefined) return null;
          const kind = m.node === g.holder ? "held" : reals.has(m.node) ? "real" : "standby";
          return <line key={`${g.name}-${m.node}`} class={`link ${kind}`} x1={x} y1={ROW.vip + VIP_H} x2={to} y2={ROW.server} />;
        });
      })}
      <line class="bus" x1={10} y1={ROW.bus} x2={W - 10} y2={ROW.bus} />
      <text class="bus-label" x={14} y={ROW.bus - 6}>
        LAN
      </text>
      {servers.map((n) => (
        <line key={`s-${n.name}`} class="drop" x1={sx.get(n.name)!} y1={ROW.server + NODE_H} x2={sx.get(n.name)!} y2={ROW.bus} />
      ))}
      {computes.map((n, i) => (
        <line key={`c-${n.name}`} class="drop" x1={cx[i]!} y1={ROW.bus} x2={cx[i]!} y2={ROW.compute} />
      ))}
      {status.groups.map((g, i) => (
        <g key={g.name} class={`vip ${g.holder ? "held" : "free"}`} transform={`translate(${vx[i]! - VIP_W / 2} ${ROW.vip})`}>
          <rect width={VIP_W} height={VIP_H} rx={8} />
          <text x={VIP_W / 2} y={19} class="strong">
            {g.name}
          </text>
          <text x={VIP_W / 2} y={37}>
            {g.vip}
          </text>
        </g>
      ))}
      {servers.map((n) => (
        <NodeBox key={n.name} x={sx.get(n.name)!} y={ROW.server} node={n} ip={ips.get(n.name)} />
      ))}
      {computes.map((n, i) => (
        <NodeBox key={n.name} x={cx[i]!} y={ROW.compute} node={n} ip={ips.get(n.name)} />
      ))}
    </svg>
  );
}

function NodeBox(props: { x: number; y: number; node: ClusterStatus["nodes"][number]; ip: string | undefined }) {
  const n = props.node;
  const state = !n.alive ? "down" : n.maintenance ? "maint" : "up";
  return (
    <g class={`node ${state}`} transform={`translate(${props.x - NODE_W / 2} ${props.y})`} data-topo-node={n.name}>
      <rect width={NODE_W} height={NODE_H} rx={6} />
      <text x={NODE_W / 2} y={19} class="strong">
        {n.name}
      </text>
      <text x={NODE_W / 2} y={35}>
        {props.ip ?? n.role}
      </text>
      <text x={NODE_W / 2} y={51} class="small">
        {!n.alive ? "not alive" : n.maintenance ? "maintenance" : n.computePhase ? `compute: ${n.computePhase.split(" ")[0]}` : "alive"}
      </text>
    </g>
  );
}
