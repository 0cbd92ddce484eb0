// The event timeline (newest first) with filters; the last decisions with their reasons.
import { useState } from "preact/hooks";
import type { ClusterStatus } from "../protocol/status.js";
import type { EventRow } from "./api.js";
import { clock } from "./util.js";

const SEVERITY = { info: 0, warning: 1, critical: 2 } as const;

export function Decisions(props: { decisions: ClusterStatus["decisions"] }) {
  const list = [...props.decisions].reverse();
  if (!list.length) return <p class="muted">No decisions yet.</p>;
  return (
    // Scrolls on its own: focusable so a keyboard can scroll it too.
    <ol class="decisions" data-testid="decisions" tabIndex={0} aria-label="Last decisions, newest first">
      {list.map((d, i) => (
        <li key={`${d.at}-${i}`}>
          <time dateTime={new Date(d.at).toISOString()}>{clock(d.at)}</time> <code>{d.kind}</code>
          {d.epoch !== undefined && <span class="muted"> epoch {d.epoch}</span>} <span class="reason">{d.reason}</span>
        </li>
      ))}
    </ol>
  );
}

export function Timeline(props: { events: EventRow[]; nodes: string[]; groups: string[] }) {
  const [severity, setSeverity] = useState("info");
  const [kind, setKind] = useState("all");
  const [node, setNode] = useState("all");
  const [group, setGroup] = useState("all");
  const [text, setText] = useState("");
  const [limit, setLimit] = useState(50);
  const kinds = [...new Set(props.events.map((e) => e.kind))].sort();
  const needle = text.trim().toLowerCase();
  const min = SEVERITY[severity as keyof typeof SEVERITY] ?? 0;
  const matching = props.events
    .filter(
      (e) =>
        SEVERITY[e.severity] >= min &&
        (kind === "all" || e.kind === kind) &&
        (node === "all" || e.node === node) &&
        (group === "all" || e.group === group) &&
        (!needle || `${e.kind} ${e.reason} ${e.actor}`.toLowerCase().includes(needle)),
    )
    .reverse();
  const shown = matching.slice(0, limit);
  const select = (label: string, value: string, set: (v: string) => void, options: [string, string][]) => (
    <label>
      {label}
      <select value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <>
      <form class="filters" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        {select("Severity", severity, setSeverity, [
          ["info", "all"],
          ["warning", "warning and up"],
          ["critical", "critical"],
        ])}
        {select("Kind", kind, setKind, [["all", "all"], ...kinds.map((k): [string, string] => [k, k])])}
        {select("Node", node, setNode, [["all", "all"], ...props.nodes.map((k): [string, string] => [k, k])])}
        {select("Group", group, setGroup, [["all", "all"], ...props.groups.map((k): [string, string] => [k, k])])}
        <label>
          Text
          <input type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </label>
      </form>
      <div class="scroll">
        <table class="events" data-testid="events">
          <caption class="sr-only">Events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Severity</th>
              <th scope="col">Kind</th>
              <th scope="col">Where</th>
              <th scope="col">Reason</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id}>
                <td class="nowrap">
                  <time dateTime={new Date(e.at).toISOString()}>{clock(e.at)}</time>
                </td>
                <td>
                  <span class={`badge sev-${e.severity}`}>{e.severity}</span>
                </td>
                <td class="nowrap">
                  <code>{e.kind}</code>
                </td>
                <td class="nowrap">{[e.group, e.node, e.epoch !== null ? `epoch ${e.epoch}` : null].filter(Boolean).join(" · ")}</td>
                <td class="reason">{e.reason}</td>
                <td class="muted small">{e.actor}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown.length === 0 && <p class="muted">No event matches.</p>}
      {matching.length > shown.length && (
        <button type="button" class="secondary more" onClick={() => setLimit(limit + 100)}>
          Show older events ({matching.length - shown.length} more)
        </button>
      )}
    </>
  );
}
