// `chime-ha shadow-report`: the API's shadow ledger as the operator reads it.
import { describe, expect, it } from "vitest";
import { formatShadowReport } from "../../node-shim/cli/shadow-report.js";
import type { ShadowReport } from "../../protocol/api.js";

const at = Date.parse("2026-11-30T06:40:00.000Z");

describe("shadow-report", () => {
  it("prints each keepalived move beside chime-ha's decision, with the verdict and the difference, and a summary", () => {
    const r: ShadowReport = {
      cluster: "lab.lab",
      site: "lab",
      matchWindowMs: 30_000,
      groups: [
        {
          group: "server-api",
          shadow: true,
          keepalivedHolder: "server1",
          chimeHaHolder: "server1",
          entries: [
            { keepalived: { to: "server1", at, initial: true }, chimeHa: { to: "server1", at, epoch: 1 }, verdict: "agreed", deltaMs: null, text: "both start with server1" },
            { keepalived: { to: "server2", at: at + 10_180 }, chimeHa: { to: "server2", at: at + 10_110, epoch: 2 }, verdict: "agreed", deltaMs: -70, text: "" },
            { keepalived: { to: "server1", at: at + 22_900 }, chimeHa: { to: "server1", at: at + 24_130, epoch: 3 }, verdict: "agreed", deltaMs: 1230, text: "" },
            { keepalived: { to: null, at: at + 40_000, dual: ["server1", "server2"] }, chimeHa: null, verdict: "keepalived-split-brain", deltaMs: null, text: "" },
          ],
          summary: { keepalivedMoves: 2, agreed: 2, disagreed: 0, keepalivedOnly: 0, chimeHaOnly: 0, splitBrain: 1, medianDeltaMs: -70, maxAbsDeltaMs: 1230 },
        },
        { group: "portal", shadow: false, keepalivedHolder: null, chimeHaHolder: "server1", entries: [], summary: { keepalivedMoves: 0, agreed: 0, disagreed: 0, keepalivedOnly: 0, chimeHaOnly: 0, splitBrain: 0, medianDeltaMs: null, maxAbsDeltaMs: null } },
      ],
    };
    expect(formatShadowReport(r)).toBe(
      [
        "server-api: keepalived holder server1, chime-ha holder server1",
        "  time (UTC)    keepalived            chime-ha              verdict                 difference",
        "  06:40:00.000  at server1            at server1 (epoch 1)  agreed",
        "  06:40:10.180  -> server2            -> server2 (epoch 2)  agreed                  chime-ha 70ms earlier",
        "  06:40:22.900  -> server1            -> server1 (epoch 3)  agreed                  chime-ha 1.23s later",
        "  06:40:40.000  on server1 + server2  -                     keepalived-split-brain",
        "  2 keepalived move(s): 2 agreed, 0 disagreed, 0 chime-ha would not have made; 0 move(s) only chime-ha would have made; 1 keepalived split brain(s); chime-ha median 70ms earlier than keepalived (largest difference 1230ms)",
      ].join("\n"),
    );
    expect(formatShadowReport({ ...r, groups: [r.groups[1]!] })).toBe("lab.lab: no group is in shadow mode (policy.shadow or a group's shadow)");
  });
});
