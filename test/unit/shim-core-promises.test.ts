// Failsafe promises (node-shim/core/promises.ts), pure: which requests a node answers, with which
// exact reason it refuses, how long a promise binds it (from receipt, ttl + the drift margin, on its
// own monotonic clock), and how a promise survives a restart (boot clock while the host has not
// rebooted, else the wall clock).
import { describe, expect, it } from "vitest";
import { type PromiseContext, PromiseBook, PromiseReplyBody, PromiseRequestBody, replyConfirms, TIME_WINDOW_MS } from "../../node-shim/core/promises.js";

const WALL = 1_800_000_000_000;

const req = (over: Partial<PromiseRequestBody> = {}): PromiseRequestBody => ({
  v: 1,
  kind: "promise",
  cluster: "dc1",
  from: "server1",
  to: "server2",
  group: "api",
  epoch: 4,
  ttlMs: 3000,
  nonce: "nonce-0001",
  sentAt: WALL,
  ...over,
});

const ctx = (over: Partial<PromiseContext> = {}): PromiseContext => ({
  self: "server2",
  cluster: "dc1",
  peers: ["server1", "server3"],
  maxTtlMs: 3000,
  marginMs: 500,
  holds: () => false,
  ...over,
});

let n = 0;
const fresh = () => `nonce-${String(++n).padStart(6, "0")}`;

describe("failsafe promises: what a node refuses, and why", () => {
  it("refuses a request for another cluster, addressed to another node, or from a non-peer, with the exact reason and no change", () => {
    const b = new PromiseBook();
    const cases: [Partial<PromiseRequestBody>, string][] = [
      [{ cluster: "dc2" }, "wrong cluster 'dc2'"],
      [{ to: "server3" }, "addressed to server3, not server2"],
      [{ from: "server9" }, "server9 is not a peer server of server2 (per the control plane)"],
    ];
    for (const [over, reason] of cases) {
      const r = b.answer(req({ nonce: fresh(), ...over }), ctx(), 100, WALL);
      expect(r).toEqual({ reply: { v: 1, kind: "reply", cluster: "dc1", from: "server2", to: over.from ?? "server1", group: "api", epoch: 4, nonce: expect.any(String), ok: false, reason }, changed: false });
    }
    expect(b.promisedTo("api", 100)).toBeNull();
    expect(b.nextExpiry()).toBeNull();
  });

  it("accepts a request sent up to 10 s before or after its own wall clock, not one millisecond more", () => {
    expect(TIME_WINDOW_MS).toBe(10_000);
    const b = new PromiseBook();
    expect(b.answer(req({ nonce: fresh(), sentAt: WALL - 10_000 }), ctx(), 0, WALL).reply.ok).toBe(true);
    expect(b.answer(req({ nonce: fresh(), sentAt: WALL + 10_000, group: "b" }), ctx(), 0, WALL).reply.ok).toBe(true);
    const late = b.answer(req({ nonce: fresh(), sentAt: WALL - 10_001, group: "c" }), ctx(), 0, WALL);
    expect(late.reply).toMatchObject({ ok: false, reason: `request time ${WALL - 10_001} is more than 10000 ms from server2's clock` });
    const early = b.answer(req({ nonce: fresh(), sentAt: WALL + 10_001, group: "c" }), ctx(), 0, WALL);
    expect(early.reply).toMatchObject({ ok: false, reason: `request time ${WALL + 10_001} is more than 10000 ms from server2's clock` });
    expect(b.promisedTo("c", 0)).toBeNull();
  });

  it("a nonce is answered once: the same request again is a replay, however soon or late within the window", () => {
    const b = new PromiseBook();
    const r = req({ nonce: "replayed-1", sentAt: WALL - 1 });
    expect(b.answer(r, ctx(), 0, WALL).reply.ok).toBe(true);
    for (const wall of [WALL, WALL + 5000, WALL + 9999]) {
      expect(b.answer(r, ctx(), 10, wall)).toMatchObject({ reply: { ok: false, reason: "replayed request (nonce already seen)" }, changed: false });
    }
    // A refused request does not use up its nonce: the same nonce, now valid, is answered.
    const b2 = new PromiseBook();
    expect(b2.answer(req({ nonce: "used-once", cluster: "dc2" }), ctx(), 0, WALL).reply.ok).toBe(false);
    expect(b2.answer(req({ nonce: "used-once" }), ctx(), 0, WALL).reply.ok).toBe(true);
  });

  it("a replay is refused even after other requests made the book forget old nonces", () => {
    const b = new PromiseBook();
    const first = req({ nonce: "first-req", sentAt: WALL });
    b.answer(first, ctx(), 0, WALL);
    // Requests 9.9 s later (their own nonces): the first one's nonce must still be remembered.
    b.answer(req({ nonce: fresh(), sentAt: WALL + 9_900, group: "x" }), ctx(), 0, WALL + 9_900);
    expect(b.answer(first, ctx(), 0, WALL + 9_950).reply.reason).toBe("replayed request (nonce already seen)");
    // A request sent 1 ms in the past, replayed at once.
    const b2 = new PromiseBook();
    const r = req({ nonce: "just-past", sentAt: WALL - 1 });
    b2.answer(r, ctx(), 0, WALL);
    b2.answer(req({ nonce: fresh(), group: "x" }), ctx(), 0, WALL);
    expect(b2.answer(r, ctx(), 0, WALL).reply.reason).toBe("replayed request (nonce already seen)");
  });

  it("refuses a promise longer than the spec's lease TTL (equal is fine); a release carries no such limit", () => {
    const b = new PromiseBook();
    expect(b.answer(req({ nonce: fresh(), ttlMs: 3001 }), ctx(), 0, WALL).reply).toMatchObject({ ok: false, reason: "ttl 3001 ms is longer than the spec's lease TTL 3000 ms" });
    expect(b.answer(req({ nonce: fresh(), ttlMs: 3000 }), ctx(), 0, WALL).reply).toMatchObject({ ok: true, reason: "promised" });
    expect(b.answer(req({ nonce: fresh(), kind: "release", ttlMs: 600_000 }), ctx(), 0, WALL).reply).toMatchObject({ ok: true, reason: "promise ended" });
  });

  it("refuses while it holds the group itself", () => {
    const b = new PromiseBook();
    const r = b.answer(req({ nonce: fresh() }), ctx({ holds: (g) => g === "api" }), 0, WALL);
    expect(r).toMatchObject({ reply: { ok: false, reason: "server2 holds api" }, changed: false });
    expect(b.promisedTo("api", 0)).toBeNull();
    expect(b.answer(req({ nonce: fresh(), group: "web" }), ctx({ holds: (g) => g === "api" }), 0, WALL).reply.ok).toBe(true);
  });
});

describe("failsafe promises: how long they bind", () => {
  it("a promise binds from receipt for ttl + margin: received at 1000 with ttl 3000 and margin 500, promised until 4499, free at 4500", () => {
    const b = new PromiseBook();
    expect(b.answer(req({ nonce: fresh() }), ctx(), 1000, WALL)).toMatchObject({ reply: { ok: true, reason: "promised", to: "server1", from: "server2" }, changed: true });
    expect(b.promisedTo("api", 4499)).toBe("server1");
    expect(b.nextExpiry()).toBe(4500);
    expect(b.promisedTo("api", 4500)).toBeNull();
    // Ended and forgotten.
    expect(b.nextExpiry()).toBeNull();
    expect(b.promisedTo("api", 1000)).toBeNull();
  });

  it("while promised to one holder it refuses another, naming the first; once the promise ends the other may have it", () => {
    const b = new PromiseBook();
    b.answer(req({ nonce: fresh() }), ctx(), 1000, WALL); // until 4500
    const other = b.answer(req({ nonce: fresh(), from: "server3" }), ctx(), 4499, WALL);
    expect(other).toMatchObject({ reply: { ok: false, reason: "server2 promised api to server1", to: "server3" }, changed: false });
    const later = b.answer(req({ nonce: fresh(), from: "server3" }), ctx(), 4500, WALL);
    expect(later).toMatchObject({ reply: { ok: true, reason: "promised" }, changed: true });
    expect(b.promisedTo("api", 4500)).toBe("server3");
    expect(b.nextExpiry()).toBe(4500 + 3500);
  });

  it("the same holder asking again extends its promise, never shortens it", () => {
    const b = new PromiseBook();
    b.answer(req({ nonce: fresh() }), ctx(), 1000, WALL); // until 4500
    b.answer(req({ nonce: fresh(), ttlMs: 1000 }), ctx(), 2000, WALL); // would be 3500
    expect(b.nextExpiry()).toBe(4500);
    b.answer(req({ nonce: fresh() }), ctx(), 3000, WALL); // 6500
    expect(b.nextExpiry()).toBe(6500);
    expect(b.promisedTo("api", 6499)).toBe("server1");
  });

  it("a release by the holder ends the promise at once; a release by anyone else, or of nothing, changes nothing", () => {
    const b = new PromiseBook();
    b.answer(req({ nonce: fresh() }), ctx(), 1000, WALL);
    expect(b.answer(req({ nonce: fresh(), kind: "release", from: "server3" }), ctx(), 1100, WALL)).toMatchObject({ reply: { ok: true, reason: "no promise to end" }, changed: false });
    expect(b.promisedTo("api", 1100)).toBe("server1");
    expect(b.answer(req({ nonce: fresh(), kind: "release", group: "web" }), ctx(), 1100, WALL)).toMatchObject({ reply: { ok: true, reason: "no promise to end" }, changed: false });
    expect(b.answer(req({ nonce: fresh(), kind: "release" }), ctx(), 1200, WALL)).toMatchObject({ reply: { ok: true, reason: "promise ended" }, changed: true });
    expect(b.promisedTo("api", 1200)).toBeNull();
    expect(b.nextExpiry()).toBeNull();
  });

  it("nextExpiry() is the earliest promise end, whatever the order they were given in", () => {
    const b = new PromiseBook();
    b.answer(req({ nonce: fresh(), group: "a" }), ctx(), 2000, WALL); // 5500
    b.answer(req({ nonce: fresh(), group: "b" }), ctx(), 1000, WALL); // 4500
    b.answer(req({ nonce: fresh(), group: "c" }), ctx(), 3000, WALL); // 6500
    expect(b.nextExpiry()).toBe(4500);
  });
});

describe("failsafe promises: across a restart", () => {
  const clocks = (now: number, wall: number, id: string, ms: number) => ({ now, wall, boot: { id, ms } });

  it("stored() writes each live promise's end on the wall clock and on the boot clock; ended ones are left out", () => {
    const b = new PromiseBook();
    b.answer(req({ nonce: fresh(), group: "a" }), ctx(), 1000, WALL); // until 4500
    b.answer(req({ nonce: fresh(), group: "b", epoch: 7 }), ctx(), 100, WALL); // until 3600
    expect(b.stored(clocks(3600, WALL + 50_000, "boot-1", 900_000))).toEqual([{ group: "a", holder: "server1", epoch: 4, untilWall: WALL + 50_900, boot: { id: "boot-1", until: 900_900 } }]);
    expect(b.stored(clocks(3599, WALL, "boot-1", 0)).map((p) => p.group)).toEqual(["a", "b"]);
  });

  it("load() honours a promise on the boot clock when the host has not rebooted (a wall-clock step does not shorten it)", () => {
    const b = new PromiseBook();
    b.load([{ group: "a", holder: "server1", epoch: 4, untilWall: WALL + 1000, boot: { id: "boot-1", until: 50_000 } }], clocks(200, WALL + 999_999, "boot-1", 48_000));
    // 2000 ms left on the boot clock: until 2200 on the new process's clock.
    expect(b.promisedTo("a", 2199)).toBe("server1");
    expect(b.promisedTo("a", 2200)).toBeNull();
  });

  it("load() falls back on the wall clock after a reboot, and drops what has ended", () => {
    const b = new PromiseBook();
    b.load(
      [
        { group: "a", holder: "server1", epoch: 4, untilWall: WALL + 1500, boot: { id: "boot-old", until: 99_999_999 } },
        { group: "b", holder: "server3", epoch: 2, untilWall: WALL, boot: { id: "boot-old", until: 99_999_999 } },
      ],
      clocks(10, WALL, "boot-new", 5),
    );
    expect(b.promisedTo("a", 1509)).toBe("server1");
    expect(b.promisedTo("a", 1510)).toBeNull();
    expect(b.promisedTo("b", 10)).toBeNull();
    // Same boot, ended on the boot clock: dropped whatever the wall clock says.
    const c = new PromiseBook();
    c.load([{ group: "a", holder: "server1", epoch: 4, untilWall: WALL + 99_000, boot: { id: "boot-1", until: 500 } }], clocks(10, WALL, "boot-1", 500));
    expect(c.nextExpiry()).toBeNull();
  });

  it("a loaded promise refuses another holder and is given back by stored()", () => {
    const b = new PromiseBook();
    b.load([{ group: "api", holder: "server3", epoch: 4, untilWall: WALL + 2000, boot: { id: "boot-1", until: 3000 } }], clocks(0, WALL, "boot-1", 1000));
    expect(b.answer(req({ nonce: fresh() }), ctx(), 100, WALL).reply.reason).toBe("server2 promised api to server3");
    expect(b.stored(clocks(1000, WALL + 1000, "boot-2", 0))).toEqual([{ group: "api", holder: "server3", epoch: 4, untilWall: WALL + 2000, boot: { id: "boot-2", until: 1000 } }]);
  });
});

describe("replyConfirms: the holder counts only the reply of the peer it asked, about what it asked", () => {
  const r = req();
  const ok: PromiseReplyBody = { v: 1, kind: "reply", cluster: "dc1", from: "server2", to: "server1", group: "api", epoch: 4, nonce: "nonce-0001", ok: true, reason: "promised" };
  it("confirms the matching reply", () => expect(replyConfirms(ok, r)).toBe(true));
  it.each<[string, Partial<PromiseReplyBody>]>([
    ["a refusal", { ok: false }],
    ["another cluster", { cluster: "dc2" }],
    ["another peer", { from: "server3" }],
    ["addressed to another holder", { to: "server3" }],
    ["another group", { group: "web" }],
    ["another epoch", { epoch: 5 }],
    ["another request's nonce", { nonce: "nonce-0002" }],
  ])("does not confirm %s", (_, over) => expect(replyConfirms({ ...ok, ...over }, r)).toBe(false));
});

describe("promise messages on the wire: what a node accepts to parse", () => {
  const ok: PromiseReplyBody = { v: 1, kind: "reply", cluster: "dc1", from: "server2", to: "server1", group: "api", epoch: 0, nonce: "n", ok: true, reason: "promised" };
  it("a request: a promise or a release, cluster 1-200 characters, epoch and send time from 0, TTL 1 ms to 10 min, nonce 8-64 characters", () => {
    const good: [keyof PromiseRequestBody, unknown][] = [["kind", "promise"], ["kind", "release"], ["cluster", "c"], ["cluster", "c".repeat(200)], ["epoch", 0], ["ttlMs", 1], ["ttlMs", 600_000], ["nonce", "n".repeat(8)], ["nonce", "n".repeat(64)], ["sentAt", 0]];
    for (const [k, v] of good) expect(PromiseRequestBody.safeParse({ ...req(), [k]: v }).success, `${k}=${String(v).slice(0, 20)}`).toBe(true);
    const bad: [keyof PromiseRequestBody, unknown][] = [["kind", "reply"], ["kind", ""], ["cluster", ""], ["cluster", "c".repeat(201)], ["epoch", -1], ["ttlMs", 0], ["ttlMs", 600_001], ["nonce", "n".repeat(7)], ["nonce", "n".repeat(65)], ["sentAt", -1], ["v", 2]];
    for (const [k, v] of bad) expect(PromiseRequestBody.safeParse({ ...req(), [k]: v }).success, `${k}=${String(v).slice(0, 20)}`).toBe(false);
    expect(PromiseRequestBody.safeParse({ ...req(), extra: 1 }).success).toBe(false);
    expect(PromiseRequestBody.parse(req())).toEqual(req());
  });
  it("a reply: kind 'reply', epoch from 0, a reason up to 300 characters", () => {
    expect(PromiseReplyBody.parse(ok)).toEqual(ok);
    expect(PromiseReplyBody.safeParse({ ...ok, reason: "" }).success).toBe(true);
    expect(PromiseReplyBody.safeParse({ ...ok, reason: "r".repeat(300) }).success).toBe(true);
    expect(PromiseReplyBody.safeParse({ ...ok, reason: "r".repeat(301) }).success).toBe(false);
    expect(PromiseReplyBody.safeParse({ ...ok, kind: "promise" }).success).toBe(false);
    expect(PromiseReplyBody.safeParse({ ...ok, epoch: -1 }).success).toBe(false);
    expect(PromiseReplyBody.safeParse({ ...ok, epoch: 5 }).success).toBe(true);
    expect(PromiseReplyBody.safeParse({ ...ok, extra: 1 }).success).toBe(false);
  });
});
