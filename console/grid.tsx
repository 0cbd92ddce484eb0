// Nodes x groups: who holds what (epoch, lease left as a bar), each member's probe and why it is
// or is not a candidate; node rows carry liveness, maintenance and the compute phase.
import type { ClusterStatus } from "../protocol/status.js";
import type { DialogKind } from "./actions.js";
import { secs } from "./util.js";

type Group = ClusterStatus["groups"][number];
type Node = ClusterStatus["nodes"][number];

export function Grid(props: { status: ClusterStatus; ttlMs: number; canAct: boolean; open: (d: DialogKind) => void }) {
  const { status, ttlMs } = props;
  const groupNames = new Set(status.groups.map((g) => g.name));
  return (
    <div class="scroll">
      <table class="grid" data-testid="grid">
        <caption class="sr-only">Nodes by groups: holder, epoch, lease left, probe results</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            {status.groups.map((g) => (
              <th scope="col" key={g.name} data-group={g.name}>
                <div class="gname">{g.name}</div>
                <div class="muted small">
                  {g.mode} · {g.vip}
                </div>
                <div class="small">
                  {g.holder ? (
                    <>
                      holder <strong data-holder={g.name}>{g.holder}</strong> · epoch {g.epoch}
                    </>
                  ) : (
                    <strong class="bad" data-holder={g.name}>
                      no holder
                    </strong>
                  )}
                  {g.phase === "revoking" && <span class="warn"> · moving to {g.revokeTo ?? "?"}</span>}
                </div>
                {g.reason && <div class="small warn reason-line">{g.reason}</div>}
                {props.canAct && (
                  <button type="button" class="small-btn" data-action="switchover" onClick={() => props.open({ kind: "switchover", group: g.name })}>
                    Switch over…
                  </button>
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {status.nodes.map((n) => (
            <tr key={n.name} data-node={n.name}>
              <NodeHeader node={n} groupNames={groupNames} canAct={props.canAct} open={props.open} clusterMaintenance={status.maintenance} />
              {status.groups.map((g) => (
                <Cell key={g.name} g={g} n={n} ttlMs={ttlMs} />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function NodeHeader(props: { node: Node; groupNames: Set<string>; canAct: boolean; open: (d: DialogKind) => void; clusterMaintenance: boolean }) {
  const n = props.node;
  const extra = Object.entries(n.probes).filter(([k]) => !props.groupNames.has(k));
  return (
    <th scope="row" class="node">
      <div class="nname">{n.name}</div>
      <div class="small muted">{n.role}</div>
      <div class="small">
        <span class={`badge ${n.alive ? "state-healthy" : "state-no-holder"}`} data-alive={n.name}>
          {n.alive ? "alive" : "not alive"}
        </span>{" "}
        {n.lastHeartbeatAgoMs === null ? "no heartbeat yet" : `beat ${secs(n.lastHeartbeatAgoMs)} ago`}
      </div>
      {n.maintenance && <div class="badge maint">maintenance</div>}
      {n.computePhase && <div class="small">compute: {n.computePhase}</div>}
      {extra.map(([k, p]) => (
        <div key={k} class="small">
          {k}: <Probe healthy={p.healthy} detail={p.detail} />
        </div>
      ))}
      {props.canAct && (
        <div class="row-actions">
          <button type="button" class="small-btn" data-action="node-maintenance" onClick={() => props.open({ kind: "maintenance", node: n.name, on: !n.maintenance })}>
            {n.maintenance ? "End maintenance…" : "Drain…"}
          </button>
          {n.role === "compute" && !n.alive && (
            <button type="button" class="small-btn" data-action="ack-fence" onClick={() => props.open({ kind: "ack-fence", node: n.name })}>
              Ack fenced…
            </button>
          )}
        </div>
      )}
    </th>
  );
}

function Probe(props: { healthy: boolean; detail: string }) {
  return (
    <span class={props.healthy ? "ok" : "bad"}>
      <span aria-hidden="true">{props.healthy ? "✓ " : "✗ "}</span>
      {props.healthy ? "ok" : "failing"}
      <span class="detail"> {props.detail}</span>
    </span>
  );
}

function Cell(props: { g: Group; n: Node; ttlMs: number }) {
  const { g, n } = props;
  const m = (g.members ?? []).find((x) => x.node === n.name);
  if (!m) {
    return (
      <td class="na">
        <span aria-hidden="true">—</span>
        <span class="sr-only">not a member</span>
      </td>
    );
  }
  const holder = g.holder === n.name;
  const probe = n.probes[g.name];
  // As the control plane reported it at the last poll (a second ago at most): the holder renews
  // between polls, so counting down locally would show less than it has.
  const left = holder ? g.leaseLeftMs : null;
  return (
    <td class={holder ? "holder" : undefined} data-cell={`${n.name}/${g.name}`}>
      {holder ? (
        <div>
          <strong>holder</strong> · epoch {g.epoch}
          {left !== null && (
            <div class="lease">
              <meter min={0} max={props.ttlMs} low={props.ttlMs / 3} optimum={props.ttlMs} value={left} aria-label={`lease left ${secs(left)}`} />
              <span class="small">{secs(left)}</span>
            </div>
          )}
          {left === null && <div class="small muted">lease unknown (control plane restarted)</div>}
        </div>
      ) : (
        <div class="small">{m.why ? <span class="muted">not a candidate: {m.why}</span> : "standby (candidate)"}</div>
      )}
      <div class="small">{probe ? <Probe healthy={probe.healthy} detail={probe.detail} /> : <span class="muted">no probe result</span>}</div>
    </td>
  );
}
