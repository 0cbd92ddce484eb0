// Operator actions, each behind a confirmation that says what will happen. Only rendered for
// operator and admin tokens; the API checks the role again on every call.
import { useState } from "preact/hooks";
import type { ClusterStatus } from "../protocol/status.js";
import { api, type ClusterInfo } from "./api.js";
import { Modal, type Outcome, outcomeOf } from "./modal.js";

type Group = ClusterStatus["groups"][number];
const base = (id: string) => `/v1/clusters/${encodeURIComponent(id)}`;

export type DialogKind =
  | { kind: "switchover"; group: string }
  | { kind: "maintenance"; node: string | null; on: boolean }
  | { kind: "ack-fence"; node: string }
  | { kind: "operation" };

interface Props {
  id: string;
  status: ClusterStatus;
  info: ClusterInfo | null;
  onDone: (o: Outcome) => void;
  onClose: () => void;
}

export function ActionDialog(props: Props & { dialog: DialogKind }) {
  const d = props.dialog;
  if (d.kind === "switchover") return <Switchover {...props} group={props.status.groups.find((g) => g.name === d.group)!} />;
  if (d.kind === "maintenance") return <Maintenance {...props} node={d.node} on={d.on} />;
  if (d.kind === "ack-fence") return <AckFence {...props} node={d.node} />;
  return <Operation {...props} />;
}

function Switchover(props: Props & { group: Group }) {
  const g = props.group;
  const [to, setTo] = useState("");
  const target = to || null;
  const what = target
    ? `${g.name} (VIP ${g.vip}) moves ${g.holder ? `from ${g.holder} ` : ""}to ${target}.`
    : `${g.name} (VIP ${g.vip}) moves ${g.holder ? `from ${g.holder} ` : ""}to the best healthy candidate the engine picks.`;
  return (
    <Modal
      title={`Switch over ${g.name}`}
      confirm="Switch over"
      onConfirm={() => outcomeOf(`Switchover of ${g.name}${target ? ` to ${target}` : ""}`, () => api.post(`${base(props.id)}/switchover`, { group: g.name, ...(target ? { to: target } : {}) }))}
      onDone={props.onDone}
      onClose={props.onClose}
    >
      <fieldset>
        <legend>Target</legend>
        <label class="choice">
          <input type="radio" name="to" value="" checked={to === ""} onChange={() => setTo("")} /> Best candidate (the engine picks)
        </label>
        {(g.members ?? []).map((m) => {
          const isHolder = m.node === g.holder;
          const why = isHolder ? `${m.node} holds it now` : m.why;
          return (
            <label key={m.node} class={why ? "choice off" : "choice"}>
              <input type="radio" name="to" value={m.node} checked={to === m.node} disabled={why !== null} onChange={() => setTo(m.node)} /> {m.node}
              <span class="why">{why ? ` — not a candidate: ${why}` : " — candidate"}</span>
            </label>
          );
        })}
      </fieldset>
      <p class="what">
        {what} {g.holder ? `The holder drops the VIP and fences (MySQL read-only where it applies), reports the release, then the target takes the VIP with the next epoch. Clients see a short interruption (about one heartbeat).` : ""}
      </p>
    </Modal>
  );
}

function Maintenance(props: Props & { node: string | null; on: boolean }) {
  const { node, on } = props;
  const title = node ? `${on ? "Drain" : "End maintenance of"} ${node}` : `Cluster maintenance ${on ? "on" : "off"}`;
  const what = node
    ? on
      ? `${node} leaves every group: the groups it holds move to other healthy members, then it is frozen (no grants) until maintenance ends.`
      : `${node} becomes a candidate again. Nothing moves back by itself unless preemption is on.`
    : on
      ? "Every automatic decision of this cluster is frozen: no failover, no grant, no fencing, until maintenance is turned off. Holders keep their VIPs while they heartbeat."
      : "Automatic decisions resume: groups without a live holder are granted again.";
  return (
    <Modal
      title={title}
      confirm={title}
      danger={on}
      onConfirm={() => outcomeOf(title, () => api.post(node ? `${base(props.id)}/nodes/${encodeURIComponent(node)}/maintenance` : `${base(props.id)}/maintenance`, { on }))}
      onDone={props.onDone}
      onClose={props.onClose}
    >
      <p class="what">{what}</p>
    </Modal>
  );
}

function AckFence(props: Props & { node: string }) {
  return (
    <Modal
      title={`Acknowledge ${props.node} is fenced`}
      confirm="I confirm it is powered off"
      danger
      onConfirm={() => outcomeOf(`Ack-fence of ${props.node}`, () => api.post(`${base(props.id)}/nodes/${encodeURIComponent(props.node)}/ack-fence`))}
      onDone={props.onDone}
      onClose={props.onClose}
    >
      <p class="what">
        You confirm that {props.node} is powered off (or cut off) for sure. chime-server is then asked to evacuate its VMs to other compute nodes. If the node still runs, its VMs would run twice: check its power state out of band first.
      </p>
    </Modal>
  );
}

function Operation(props: Props) {
  const groups = props.status.groups.filter((g) => g.mode === "minio" || g.mode === "influxdb-read");
  const [group, setGroup] = useState(groups[0]?.name ?? "");
  const g = groups.find((x) => x.name === group);
  const kind = g?.mode === "minio" ? "minio-heal" : "influxdb-backfill";
  const [alias, setAlias] = useState("chime");
  const [node, setNode] = useState("");
  const [database, setDatabase] = useState("");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const startMs = start ? new Date(start).getTime() : NaN;
  const endMs = end ? new Date(end).getTime() : NaN;
  const ready = g !== undefined && (kind === "minio-heal" ? alias.trim() !== "" : node !== "" && database.trim() !== "" && endMs > startMs);
  const body =
    kind === "minio-heal"
      ? { kind, group, alias: alias.trim(), ...(node ? { node } : {}) }
      : { kind, group, node, database: database.trim(), startMs, endMs };
  const what =
    kind === "minio-heal"
      ? `${node || `the holder of ${group}${g?.holder ? ` (${g.holder})` : ""}`} runs \`mc admin heal\` on alias '${alias}'. The result arrives as an event.`
      : `${node || "the chosen node"} copies ${database || "the database"} between the two times from a live, healthy peer into itself. The result arrives as an event.`;
  if (!groups.length) {
    return (
      <Modal title="Run an operation" confirm="Close" ready={false} onConfirm={async () => ({ ok: false, action: "", text: "" })} onDone={props.onDone} onClose={props.onClose}>
        <p>This cluster has no MinIO or InfluxDB group: no operation applies.</p>
      </Modal>
    );
  }
  return (
    <Modal title="Run an operation" confirm={kind === "minio-heal" ? "Run heal" : "Run backfill"} ready={ready} onConfirm={() => outcomeOf(`${kind} on ${group}`, () => api.post(`${base(props.id)}/operations`, body))} onDone={props.onDone} onClose={props.onClose}>
      <label>
        Group
        <select value={group} onChange={(e) => setGroup((e.target as HTMLSelectElement).value)}>
          {groups.map((x) => (
            <option key={x.name} value={x.name}>
              {x.name} ({x.mode === "minio" ? "minio-heal" : "influxdb-backfill"})
            </option>
          ))}
        </select>
      </label>
      <label>
        Node {kind === "minio-heal" ? "(default: the holder)" : "(the instance that missed writes)"}
        <select value={node} onChange={(e) => setNode((e.target as HTMLSelectElement).value)}>
          <option value="">{kind === "minio-heal" ? "the holder" : "choose…"}</option>
          {(g?.members ?? []).map((m) => (
            <option key={m.node} value={m.node}>
              {m.node}
            </option>
          ))}
        </select>
      </label>
      {kind === "minio-heal" ? (
        <label>
          mc alias
          <input value={alias} onInput={(e) => setAlias((e.target as HTMLInputElement).value)} />
        </label>
      ) : (
        <>
          <label>
            Database
            <input value={database} onInput={(e) => setDatabase((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            From
            <input type="datetime-local" step="1" value={start} onInput={(e) => setStart((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            To
            <input type="datetime-local" step="1" value={end} onInput={(e) => setEnd((e.target as HTMLInputElement).value)} />
          </label>
        </>
      )}
      <p class="what">{what}</p>
    </Modal>
  );
}

export type { Outcome };
