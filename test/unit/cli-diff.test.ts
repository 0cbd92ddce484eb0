// `apply`'s diff: field by field, named lists matched by name (reordering is no change), and fence
// credentials never printed (the API shows stored ones as "(stored encrypted)").
import { describe, expect, it } from "vitest";
import { diffValues, formatChange } from "../../node-shim/cli/diff.js";

const lines = (a: unknown, b: unknown) => diffValues(a, b).map(formatChange);

describe("apply's diff", () => {
  it("matches nodes and groups by name: a reorder is no change, an insertion one line", () => {
    const a = { policy: { leaseTtlMs: 3000 }, nodes: [{ name: "s1", ip: "10.0.0.1" }, { name: "s2", ip: "10.0.0.2" }] };
    expect(lines(a, { ...a, nodes: [a.nodes[1], a.nodes[0]] })).toEqual([]);
    expect(lines(a, { policy: { leaseTtlMs: 2500 }, nodes: [...a.nodes, { name: "s3", ip: "10.0.0.3" }] })).toEqual([
      "~ policy.leaseTtlMs: 3000 -> 2500",
      '+ nodes[s3]: {"name":"s3","ip":"10.0.0.3"}',
    ]);
    expect(lines(a, { policy: {}, nodes: [a.nodes[0]] })).toEqual(["- policy.leaseTtlMs: 3000", '- nodes[s2]: {"name":"s2","ip":"10.0.0.2"}']);
  });

  it("never prints a fence credential; a stored one sent back as is is no change", () => {
    const stored = { nodes: [{ name: "n1", fence: { type: "ipmi", host: "bmc1", user: "admin", password: "(stored encrypted)" } }] };
    expect(lines(stored, structuredClone(stored))).toEqual([]);
    const file = { nodes: [{ name: "n1", fence: { type: "ipmi", host: "bmc1", user: "admin", password: "hunter22" } }, { name: "n2", fence: { type: "webhook", url: "https://f.example/off", authorization: "Bearer abc" } }] };
    const out = lines(stored, file);
    expect(out).toEqual([
      "~ nodes[n1].fence.password: (stored encrypted) -> (not shown; the file's value is sent)",
      '+ nodes[n2]: {"name":"n2","fence":{"type":"webhook","url":"https://f.example/off","authorization":"(not shown)"}}',
    ]);
    expect(out.join("\n")).not.toMatch(/hunter22|Bearer abc/);
  });
});
