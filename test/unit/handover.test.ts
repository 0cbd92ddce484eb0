// The upgrade handover marker (node-shim/install/handover.ts): a SIGTERM keeps the VIPs only for
// the process it names, only while it is fresh, and only once.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HANDOVER_TTL_MS, takeHandover, writeHandover } from "../../node-shim/install/handover.js";

const dir = mkdtempSync(join(tmpdir(), "chime-handover-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("upgrade handover marker", () => {
  it("is honoured by the PID it names, once, within its lifetime", () => {
    expect(takeHandover(dir, 100, 1000)).toBe(false);
    writeHandover(dir, 100, 1000);
    expect(takeHandover(dir, 101, 1000)).toBe(false);
    expect(takeHandover(dir, 100, 1000 + HANDOVER_TTL_MS + 1)).toBe(false);
    expect(takeHandover(dir, 100, 999)).toBe(false);
    expect(takeHandover(dir, 100, 2000)).toBe(true);
    // Consumed: the next stop of the same process (or its PID reused) releases as usual.
    expect(takeHandover(dir, 100, 2000)).toBe(false);
  });
});
