// The Durable Object's persisted state is versioned: a Worker loads what an older version wrote,
// migrates it once, and no VIP moves. The v0 object is a capture of real storage from the Worker
// before versions existed (fixtures/cluster-do-v0.json).
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { migrateStored, STATE_SCHEMA_VERSION, StateSchemaError } from "../../worker/cluster/state-schema.js";
import fixture from "./fixtures/cluster-do-v0.json";
import { ALL_HEALTHY, beat, call, heartbeat } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stubOf = (id: string) => env.CLUSTER.get(env.CLUSTER.idFromName(id));

describe("state schema migrations (pure)", () => {
  it("v0 -> v1 -> v2 adds the token overlap, then an empty availability ledger and drills; stamps both keys; moves no holder or epoch", () => {
    const m = migrateStored(structuredClone(fixture.state), structuredClone(fixture.meta));
    expect(m.state.ledger).toEqual({});
    expect(m.state.drills).toEqual({});
    expect(m.from).toBe(0);
    expect(m.migrated).toBe(true);
    expect(m.state.schemaVersion).toBe(STATE_SCHEMA_VERSION);
    expect(m.meta.schemaVersion).toBe(STATE_SCHEMA_VERSION);
    expect(m.meta.previousTokens).toEqual({});
    expect(m.meta.nodeTokenHashes).toEqual(fixture.meta.nodeTokenHashes);
    expect(m.state.groups).toEqual(fixture.state.groups);
    expect(m.state.spec).toEqual(fixture.state.spec);
  });

  it("current state is left alone; a newer version is loaded as is (rollback by one version)", () => {
    const once = migrateStored(structuredClone(fixture.state), structuredClone(fixture.meta));
    const again = migrateStored(structuredClone(once.state), structuredClone(once.meta));
    expect(again.migrated).toBe(false);
    expect(again.state).toEqual(once.state);
    const newer = migrateStored({ ...once.state, schemaVersion: STATE_SCHEMA_VERSION + 1, futureField: 1 }, { ...once.meta, schemaVersion: STATE_SCHEMA_VERSION + 1 });
    expect(newer.migrated).toBe(false);
    expect((newer.state as unknown as { futureField: number }).futureField).toBe(1);
  });

  it("refuses something that is not cluster state", () => {
    expect(() => migrateStored(null, {})).toThrow(StateSchemaError);
    expect(() => migrateStored({ clusterId: "x" }, { siteId: "s" })).toThrow(/lacks required fields/);
  });
});

describe("a v0 Durable Object under the new Worker", () => {
  it("loads the captured v0 storage, migrates it once, and moves no group (server-api stays on server2 at epoch 3)", { timeout: 20_000 }, async () => {
    const id = fixture.clusterId;
    const stub = stubOf(id);
    // Put the old object's storage in place, then end this instance so the next call loads it.
    await runInDurableObject(stub, async (_o, state) => {
      await state.storage.deleteAll();
      await state.storage.put({ state: fixture.state, meta: fixture.meta });
    });
    await runInDurableObject(stub, (_o, state) => state.abort("reload with v0 storage")).catch(() => undefined);

    const tokens = fixture.tokens as Record<string, string>;
    const first = await heartbeat(id, "server1", tokens.server1!, beat({ bootId: "after-upgrade", seq: 1 }, ALL_HEALTHY));
    expect(first.status).toBe(200);
    expect(first.reply.grants.map((g) => g.group)).not.toContain("server-api");
    // Within the restart grace only the persisted holder is renewed: same epoch, no new grant.
    const second = await heartbeat(id, "server2", tokens.server2!, beat({ bootId: "s2", seq: 1 }, ALL_HEALTHY));
    expect(second.reply.grants.find((g) => g.group === "server-api")).toMatchObject({ epoch: 3 });
    // A stub that saw the abort stays broken: take a new one.
    const stored = await runInDurableObject(stubOf(id), async (_o, state) => ({ state: await state.storage.get<Record<string, unknown>>("state"), meta: await state.storage.get<Record<string, unknown>>("meta") }));
    expect(stored.state?.schemaVersion).toBe(STATE_SCHEMA_VERSION);
    expect(stored.meta?.schemaVersion).toBe(STATE_SCHEMA_VERSION);
    expect(stored.meta?.previousTokens).toEqual({});

    // Past the fixture's lease (1 s) + margin (0.2 s), both servers beating: nothing moves.
    for (let i = 2; i < 10; i++) {
      const a = await heartbeat(id, "server1", tokens.server1!, beat({ bootId: "after-upgrade", seq: i }, ALL_HEALTHY));
      const b = await heartbeat(id, "server2", tokens.server2!, beat({ bootId: "s2", seq: i }, ALL_HEALTHY));
      expect(a.status).toBe(200);
      expect(a.reply.grants.map((g) => g.group)).not.toContain("server-api");
      expect(b.reply.grants.find((g) => g.group === "server-api")).toMatchObject({ epoch: 3 });
      await sleep(200);
    }
    const st = (await stubOf(id).status())!;
    const held = Object.fromEntries(
      ["server-api", "portal", "influxdb"].map((g) => {
        const s = st.groups.find((x) => x.name === g)!;
        return [g, [s.holder, s.epoch]];
      }),
    );
    expect(held).toEqual({ "server-api": ["server2", 3], portal: ["server1", 1], influxdb: ["server1", 1] });
    // And the API sees the same cluster state (no D1 row was needed to serve it).
    expect((await call("GET", `/v1/clusters/${id}/status`)).status).toBe(404);
  });
});
