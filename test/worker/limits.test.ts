// Local limits through the real Worker (issue 18): the limits the shims report are kept by the
// cluster's Durable Object; a spec update that would put a VIP where no member of its group
// allows it is refused at the API with a 409 naming node, VIP and limit (nothing stored, the
// refusal in the audit log); a refusal a shim reports is a critical event and shows in status.
import { describe, expect, it } from "vitest";
import type { EventRow } from "../../protocol/api.js";
import type { LimitsReport } from "../../protocol/limits.js";
import type { ClusterStatus } from "../../protocol/status.js";
import { ALL_HEALTHY, beat, call, exampleSpec, heartbeat, newCluster } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The example's VIPs are 192.168.231.10-.50: inside 192.168.231.0/26 (.0-.63).
const LIMITS: LimitsReport = { restricted: true, vipCidrs: ["192.168.231.0/26"], minPrefixLength: 24, interfaces: ["eth0"] };

async function eventsWhen(id: string, ok: (e: EventRow[]) => boolean): Promise<EventRow[]> {
  let last: EventRow[] = [];
  for (let i = 0; i < 100; i++) {
    last = ((await call("GET", `/v1/clusters/${id}/events?limit=500`)).json as unknown as { events: EventRow[] }).events;
    if (ok(last)) return last;
    await sleep(50);
  }
  throw new Error(`events never matched; last: ${JSON.stringify(last.map((e) => [e.kind, e.reason]))}`);
}

describe("local limits through the Worker", () => {
  it("refuses a spec update that puts a VIP outside every member's reported limits, before it is stored", async () => {
    const c = await newCluster();
    for (const n of ["server1", "server2"]) expect((await heartbeat(c.id, n, c.tokens[n]!, beat({ limits: LIMITS }, ALL_HEALTHY))).status).toBe(200);
    const outside = exampleSpec((s) => (s.groups![0]!.vip = "192.168.231.100"));
    const r = await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: outside }, headers: { "if-match": '"v1"' } });
    expect(r.status).toBe(409);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    const message = "no member of server-api allows VIP 192.168.231.100/24 on eth0: server1: VIP 192.168.231.100/24 is outside limits.vip.cidrs: 192.168.231.0/26; server2: VIP 192.168.231.100/24 is outside limits.vip.cidrs: 192.168.231.0/26";
    expect(r.json.errors).toEqual([{ path: "spec.groups[0].vip", message }]);
    expect(String(r.json.detail)).toContain("nothing was stored");
    // Nothing changed: still version 1.
    const got = await call("GET", `/v1/clusters/${c.id}`);
    expect(got.headers.get("etag")).toBe('"v1"');
    // The refusal is in the audit log with its reason.
    const audit = (await call("GET", "/v1/audit?limit=1000")).json as unknown as string;
    const row = String(audit)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; target: string; status: number; detail: string })
      .findLast((a) => a.action === "PUT /v1/clusters/:id/spec" && a.target === `/v1/clusters/${c.id}/spec`);
    expect(row).toMatchObject({ status: 409 });
    expect(row!.detail).toContain("server1: VIP 192.168.231.100/24 is outside limits.vip.cidrs: 192.168.231.0/26");

    // Inside the limits (or a node that does not restrict): accepted.
    const inside = exampleSpec((s) => (s.groups![0]!.vip = "192.168.231.60"));
    expect((await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: inside }, headers: { "if-match": '"v1"' } })).status).toBe(200);
    await heartbeat(c.id, "server2", c.tokens.server2!, beat({ seq: 2, limits: { restricted: false, vipCidrs: [], minPrefixLength: 0, interfaces: [] } }, ALL_HEALTHY));
    expect((await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: outside }, headers: { "if-match": '"v2"' } })).status).toBe(200);
  });

  it("lets a spec update through while a member never reported limits (the nodes judge it themselves)", async () => {
    const c = await newCluster();
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ limits: LIMITS }, ALL_HEALTHY));
    const outside = exampleSpec((s) => (s.groups![0]!.vip = "192.168.231.100"));
    expect((await call("PUT", `/v1/clusters/${c.id}/spec`, { body: { spec: outside }, headers: { "if-match": '"v1"' } })).status).toBe(200);
  });

  it("a refusal a shim reports is a critical event and shows in status", async () => {
    const c = await newCluster();
    const refusal = { group: "portal", kind: "lb-port" as const, what: "load balancing of port 80 (VIP 192.168.231.20)", limit: "limits.lb.ports: 443", since: 1 };
    await heartbeat(c.id, "server1", c.tokens.server1!, beat({ limits: LIMITS, limitRefusals: [refusal] }, ALL_HEALTHY));
    const st = (await call("GET", `/v1/clusters/${c.id}/status`)).json as unknown as ClusterStatus;
    const node = st.nodes.find((n) => n.name === "server1")!;
    expect(node.limits).toEqual(LIMITS);
    expect(node.limitRefusals).toEqual([refusal]);
    const reason = "server1 refuses load balancing of port 80 (VIP 192.168.231.20) for portal: not allowed by its local limits (limits.lb.ports: 443)";
    expect(st.groups.find((g) => g.name === "portal")!.members!.find((m) => m.node === "server1")!.why).toBe(reason);
    const ev = await eventsWhen(c.id, (e) => e.some((x) => x.kind === "limits.refused"));
    expect(ev.filter((e) => e.kind === "limits.refused").map((e) => [e.severity, e.node, e.group, e.reason])).toEqual([["critical", "server1", "portal", reason]]);
  });
});
