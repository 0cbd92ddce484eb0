// A control-plane outage as the shim keeps it (node-shim/outage.ts): from the first of two or
// more failed heartbeats in a row, with what the node held (kept on promises, or lost and when),
// sent with every heartbeat until one is answered; a single failed heartbeat is no outage.
import { describe, expect, it } from "vitest";
import { OutageTracker } from "../../node-shim/outage.js";

describe("outage tracker", () => {
  it("one failure is forgotten when the next heartbeat is answered", () => {
    const t = new OutageTracker();
    t.failed(4, 1000, "no reply within 800 ms", [{ group: "api", epoch: 2 }]);
    expect(t.report(2000)).toBeUndefined();
    t.answered();
    t.failed(6, 3000, "x", []);
    expect(t.report(4000)).toBeUndefined();
  });

  it("two or more: from the first failure, what was held and how it ended, until answered", () => {
    const t = new OutageTracker();
    const held = [{ group: "api", epoch: 2 }, { group: "portal", epoch: 5 }];
    t.failed(10, 1000, "connect ECONNREFUSED", held);
    t.failed(11, 2000, "connect ECONNREFUSED", held);
    t.keptOnPromises("api");
    t.sync(new Set(["api"]), 3000); // portal's lease ended
    t.failed(12, 3000, "HTTP 503", [{ group: "api", epoch: 2 }]);
    t.sync(new Set(["api"]), 9000); // not "lost" again later
    expect(t.report(10_000)).toEqual({
      id: 10,
      fromAgoMs: 9000,
      failures: 3,
      lastError: "HTTP 503",
      held: [
        { group: "api", epoch: 2, keptOnPromises: true },
        { group: "portal", epoch: 5, keptOnPromises: false, lostAgoMs: 7000 },
      ],
    });
    // The heartbeat carrying it failed too: the next one carries it again, same id.
    t.failed(13, 10_000, "HTTP 503", []);
    expect(t.report(11_000)!.id).toBe(10);
    t.answered();
    expect(t.report(12_000)).toBeUndefined();
  });
});
