// The shim's local lease book (node-shim/core/leases.ts), pure: a grant in the reply to a heartbeat
// SENT at `sentAt` holds until sentAt + ttl - margin on the shim's monotonic clock, and not one
// millisecond longer; older epochs are refused; a renewal never shortens the lease it renews.
import { describe, expect, it } from "vitest";
import { LeaseBook } from "../../node-shim/core/leases.js";

const MARGIN = 100;

describe("LeaseBook", () => {
  it("a grant holds from the send time: sent at 1000 with a 3 s TTL it is valid up to 3899 and over at 3900", () => {
    const b = new LeaseBook(MARGIN);
    expect(b.grant("api", 1, 3000, 1000, 1200)).toBe("granted");
    expect(b.valid("api", 3899)).toEqual({ group: "api", epoch: 1, validUntil: 3900 });
    expect(b.valid("api", 3900)).toBeNull();
    expect(b.held(3899).map((l) => l.group)).toEqual(["api"]);
    expect(b.held(3900)).toEqual([]);
    expect(b.nextExpiry()).toBe(3900);
  });

  it("a reply that arrives after the lease it carries would end is 'expired' and holds nothing", () => {
    const b = new LeaseBook(MARGIN);
    // Sent at 0, TTL 3000: over at 2900. The reply arrives exactly then.
    expect(b.grant("api", 1, 3000, 0, 2900)).toBe("expired");
    expect(b.valid("api", 2899)).toBeNull();
    expect(b.nextExpiry()).toBeNull();
    // One millisecond earlier it still holds, for that one millisecond.
    expect(b.grant("api", 1, 3000, 0, 2899)).toBe("granted");
    expect(b.valid("api", 2899)?.validUntil).toBe(2900);
  });

  it("epochs: an older one is 'stale' and changes nothing; the same or a newer one is taken", () => {
    const b = new LeaseBook(MARGIN);
    expect(b.epochSeen("api")).toBe(0);
    expect(b.grant("api", 5, 3000, 0, 10)).toBe("granted");
    expect(b.epochSeen("api")).toBe(5);
    expect(b.grant("api", 4, 3000, 1000, 1010)).toBe("stale");
    expect(b.valid("api", 1010)).toEqual({ group: "api", epoch: 5, validUntil: 2900 });
    expect(b.epochSeen("api")).toBe(5);
    expect(b.observeEpoch("api", 4)).toBe(false);
    expect(b.observeEpoch("api", 5)).toBe(true);
    expect(b.observeEpoch("api", 6)).toBe(true);
    expect(b.epochSeen("api")).toBe(6);
    // Epochs are per group.
    expect(b.epochSeen("portal")).toBe(0);
    expect(b.observeEpoch("portal", 1)).toBe(true);
  });

  it("a renewal never shortens the lease at the same epoch (replies can arrive out of order)", () => {
    const b = new LeaseBook(MARGIN);
    b.grant("api", 1, 3000, 2000, 2010); // until 4900
    // The reply to an earlier heartbeat (sent at 1000) arrives late: the lease stays at 4900.
    expect(b.grant("api", 1, 3000, 1000, 2020)).toBe("granted");
    expect(b.valid("api", 2020)?.validUntil).toBe(4900);
    // Renewal at the same end: still valid, unchanged.
    expect(b.extend("api", 1, 4900, 3000)).toBe(true);
    expect(b.valid("api", 3000)?.validUntil).toBe(4900);
    // A shorter renewal asked after the longer lease ended: nothing is valid.
    expect(b.extend("api", 1, 3500, 4900)).toBe(false);
    expect(b.valid("api", 4900)).toBeNull();
    // A longer one extends.
    expect(b.extend("api", 1, 6000, 3000)).toBe(true);
    expect(b.valid("api", 5999)?.validUntil).toBe(6000);
  });

  it("a newer epoch replaces the lease even with an earlier end", () => {
    const b = new LeaseBook(MARGIN);
    b.grant("api", 1, 3000, 2000, 2010); // epoch 1 until 4900
    expect(b.grant("api", 2, 3000, 1500, 2020)).toBe("granted"); // epoch 2 until 4400
    expect(b.valid("api", 2020)).toEqual({ group: "api", epoch: 2, validUntil: 4400 });
    expect(b.valid("api", 4400)).toBeNull();
  });

  it("expire() removes and returns exactly the leases over at `now`; nextExpiry() is the earliest end", () => {
    const b = new LeaseBook(0);
    b.grant("a", 1, 3000, 0, 0); // 3000
    b.grant("b", 1, 2000, 0, 0); // 2000
    b.grant("c", 1, 4000, 0, 0); // 4000
    expect(b.nextExpiry()).toBe(2000);
    expect(b.expire(1999)).toEqual([]);
    expect(b.expire(2000)).toEqual([{ group: "b", epoch: 1, validUntil: 2000 }]);
    expect(b.nextExpiry()).toBe(3000);
    expect(b.expire(3500)).toEqual([{ group: "a", epoch: 1, validUntil: 3000 }]);
    expect(b.held(3500)).toEqual([{ group: "c", epoch: 1, validUntil: 4000 }]);
    expect(b.nextExpiry()).toBe(4000);
    expect(b.expire(10_000).map((l) => l.group)).toEqual(["c"]);
    expect(b.nextExpiry()).toBeNull();
  });

  it("nextExpiry() finds the earliest end whatever the insertion order", () => {
    const b = new LeaseBook(0);
    b.grant("late", 1, 5000, 0, 0);
    b.grant("early", 1, 1000, 0, 0);
    b.grant("middle", 1, 3000, 0, 0);
    expect(b.nextExpiry()).toBe(1000);
  });

  it("drop() ends a lease at once and returns it; clear() returns and ends all", () => {
    const b = new LeaseBook(MARGIN);
    b.grant("a", 3, 3000, 0, 0);
    b.grant("b", 4, 3000, 0, 0);
    expect(b.drop("a")).toEqual({ group: "a", epoch: 3, validUntil: 2900 });
    expect(b.valid("a", 1)).toBeNull();
    expect(b.drop("a")).toBeNull();
    // The epoch seen survives the drop: an older grant stays refused.
    expect(b.grant("a", 2, 3000, 10, 10)).toBe("stale");
    expect(b.clear()).toEqual([{ group: "b", epoch: 4, validUntil: 2900 }]);
    expect(b.held(0)).toEqual([]);
    expect(b.nextExpiry()).toBeNull();
  });
});
