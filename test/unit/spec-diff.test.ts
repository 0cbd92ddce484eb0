// What `npm start` prints when the spec file changed: one line per change, list items by name.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateSpec } from "../../protocol/spec.js";
import { REPO_ROOT } from "../../scripts/lib/control-plane.js";
import { specChanges } from "../../scripts/lib/spec-diff.js";

const example = () => parse(readFileSync(join(REPO_ROOT, "examples/chimestack.yaml"), "utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const valid = (s: unknown) => {
  const r = validateSpec(s);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
};

describe("specChanges", () => {
  it("finds nothing between a spec and itself (defaults filled in both)", () => {
    expect(specChanges(valid(example()), valid(example()))).toEqual([]);
  });

  it("names changed values, added and removed list items by name, and new fields", () => {
    const b = example();
    b.policy.leaseTtlMs = 2500;
    b.nodes.push({ name: "node3", hostname: "node3.chime.com", ip: "192.168.231.103", role: "compute" });
    b.groups = b.groups.filter((g: { name: string }) => g.name !== "minio");
    b.groups[0].probe.intervalMs = 500;
    b.description = "edited";
    expect(specChanges(valid(example()), valid(b))).toEqual([
      "description: ChimeStack production cluster from the HA guide (2 servers + 2 computes) -> edited",
      "policy.leaseTtlMs: 3000 -> 2500",
      "nodes[node3]: added",
      "groups[minio]: removed",
      "groups[server-api].probe.intervalMs: 1000 -> 500",
    ]);
  });
});
