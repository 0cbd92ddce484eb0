// The wire protocol between a node's shim and its cluster's Durable Object.
//
// Lease rule (README, "How it stays split-brain safe"): the shim notes its monotonic clock `s` when it SENDS a heartbeat; a
// grant `(epoch, ttlMs)` in the reply makes its local lease valid until `s + ttlMs - localMargin`.
// The Durable Object counts the same lease from when it RECEIVED the heartbeat. Heartbeats go
// either as HTTP POSTs or as messages on the node's watch socket (the same body, a reply
// correlated by `seq`); the rule is the same on both. A desired-state push carries no lease: it
// tells the shim to heartbeat now. A pushed grant counts as a reply to a heartbeat already sent.
import { z } from "zod";
import { LimitRefusal, LimitsReport } from "./limits.js";
import { GroupMode, Ipv4, Name, PortSpec, ProbeSpec } from "./spec.js";

/**
 * Heartbeat protocol version. A shim sends the version it speaks; the control plane serves this
 * version and the older ones back to OLDEST_PROTOCOL_VERSION and answers each shim in its own version,
 * so the control plane can be upgraded first and the shims one by one. A field added to a reply
 * (or to the desired state in it) needs a new version, and worker/cluster/protocol.ts must leave
 * it out for older shims: they parse replies strictly. v1: no `protocol` field (shims before
 * versioning); v2: `protocol` in request and reply; v3: mysql `requiredGtid` / `acceptDataLoss` in
 * the desired state, `idempotencyKey` on evacuations and `maxPoints` on backfills; shadow mode
 * (`shadow` on desired groups, `observed` in the request); heartbeats and pushed grants on the
 * watch socket. v4: `peers` and `driftMarginMs` in the desired state (failsafe peers from the
 * control plane), and in requests `unreleased`, `refused` and `leaving` (older shims send none).
 * v5: in the desired state `ip` (the node's own), `failsafeKeys` (failsafe on without a secret in
 * the shim config), `specBy` and each operation's `requestedBy` (provenance); in requests
 * `limits`, `limitRefusals` and `outage` (accepted from any version: they are optional).
 * v6: `process` on desired groups (the shim watches the service's process and probes at once when
 * it dies); in requests `vipAnswered` (optional, accepted from any version).
 * v7: `handoffTo` / `handoffFrom` on desired groups (direct handoff between shims when the
 * holder's own probe fails; see DesiredGroup); in requests `handedTo` on released groups.
 */
export const PROTOCOL_VERSION = 7;
export const OLDEST_PROTOCOL_VERSION = 1;

/**
 * Semi-sync replication as this server sees it (MariaDB's built-in semisync). The counters only
 * grow while mysqld runs, so the control plane can tell a fallback between two reports.
 */
export const SemiSyncReport = z.strictObject({
  /** rpl_semi_sync_master_enabled */
  masterEnabled: z.boolean(),
  /** Rpl_semi_sync_master_status: commits wait for a standby's acknowledgement (OFF after a fallback). */
  masterStatus: z.boolean(),
  /** Rpl_semi_sync_master_clients: semi-sync standbys connected now. */
  clients: z.number().int().min(0),
  /** Rpl_semi_sync_master_no_tx: commits acknowledged without any standby having them. */
  noTx: z.number().int().min(0),
  /** Rpl_semi_sync_master_yes_tx: commits a standby acknowledged. */
  yesTx: z.number().int().min(0),
  /** Rpl_semi_sync_master_wait_sessions: commits waiting for an acknowledgement right now. */
  waitSessions: z.number().int().min(0),
  /** rpl_semi_sync_slave_enabled (this server acknowledges as a standby). */
  slaveEnabled: z.boolean(),
});
export type SemiSyncReport = z.infer<typeof SemiSyncReport>;

/** Server settings the control plane checks against a safe dual-master setup (README, Data services). */
export const MysqlConfigReport = z.strictObject({
  gtidDomainId: z.number().int().min(0),
  gtidStrictMode: z.boolean(),
  logSlaveUpdates: z.boolean(),
  /** rpl_semi_sync_master_wait_point: AFTER_SYNC or AFTER_COMMIT. */
  waitPoint: z.string().max(32),
  waitNoSlave: z.boolean(),
  /** rpl_semi_sync_master_timeout */
  semiSyncTimeoutMs: z.number().int().min(0),
});
export type MysqlConfigReport = z.infer<typeof MysqlConfigReport>;

/** MySQL/MariaDB replication facts, reported by the mysql probe (mysql-writer groups). */
export const MysqlReport = z.strictObject({
  readOnly: z.boolean(),
  /** Replication configured at all (SHOW SLAVE STATUS returned a row). */
  replicaConfigured: z.boolean(),
  ioRunning: z.boolean(),
  sqlRunning: z.boolean(),
  /** SQL thread applied everything the IO thread read (verified, never assumed from an empty position). */
  caughtUp: z.boolean(),
  secondsBehind: z.number().int().min(0).nullable(),
  gtidCurrentPos: z.string().max(4000),
  gtidBinlogPos: z.string().max(4000),
  gtidSlavePos: z.string().max(4000),
  /** Transactions in this server's binlog that the peer never had (would be lost or conflict on promotion). */
  errantTransactions: z.boolean(),
  /** Galera: wsrep_local_state == 4 in a Primary component. */
  galeraSynced: z.boolean().optional(),
  /** Galera: wsrep_local_state_comment and wsrep_cluster_status, for the reason text. */
  galeraState: z.string().max(64).optional(),
  serverId: z.number().int().min(0).optional(),
  /** Gtid_IO_Pos: the last GTIDs the IO thread received from the writer (relay log), applied or not. */
  gtidIoPos: z.string().max(4000).optional(),
  /** gtid_binlog_state: last GTID per (domain, server) in this server's binlog (errant checks). */
  gtidBinlogState: z.string().max(4000).optional(),
  semiSync: SemiSyncReport.optional(),
  config: MysqlConfigReport.optional(),
});
export type MysqlReport = z.infer<typeof MysqlReport>;

export const MinioReport = z.strictObject({
  live: z.boolean(),
  writeQuorum: z.boolean(),
  readQuorum: z.boolean(),
});
export type MinioReport = z.infer<typeof MinioReport>;

export const ProbeReport = z.strictObject({
  healthy: z.boolean(),
  /** Short human text: "http 200 in 3 ms", "connect ECONNREFUSED". */
  detail: z.string().max(500).default(""),
  mysql: MysqlReport.optional(),
  minio: MinioReport.optional(),
  /** Unhealthy only: ms from the last successful run to sending (the outage began within it). */
  downForMs: z.number().int().min(0).optional(),
  /** With mysql/minio facts: ms from the start of the run that produced them to sending, and its length. */
  factsAgeMs: z.number().int().min(0).optional(),
  factsRunMs: z.number().int().min(0).optional(),
});
export type ProbeReport = z.infer<typeof ProbeReport>;

export const GroupEpoch = z.strictObject({ group: Name, epoch: z.number().int().min(0) });
export const ReleasedGroup = GroupEpoch.extend({ handedTo: Name.optional() });
export type ReleasedGroup = z.infer<typeof ReleasedGroup>;
export type GroupEpoch = z.infer<typeof GroupEpoch>;

/** Shadow mode: whether a group's VIP is on this host (put there by the HA system in place), and since when. */
export const ObservedVip = z.strictObject({
  group: Name,
  present: z.boolean(),
  /** How long it has been so, on the shim's clock (the control plane subtracts it from the receipt time). */
  forMs: z.number().int().min(0),
});
export type ObservedVip = z.infer<typeof ObservedVip>;

export const OperationResult = z.strictObject({
  id: z.string().min(1).max(100),
  ok: z.boolean(),
  detail: z.string().max(2000).default(""),
  /** influxdb-backfill: how far this run got (a bounded run may end before the window does). */
  progress: z.strictObject({ doneUntilMs: z.number(), points: z.number().int().min(0), complete: z.boolean() }).optional(),
});
export type OperationResult = z.infer<typeof OperationResult>;

/**
 * A change the shim could not apply and that still fails (it is dropped from the list once an
 * apply of the same target succeeds): e.g. the director cannot program IPVS, `ip addr add` fails.
 */
export const ApplyError = z.strictObject({
  /** The group it was for; absent for node-wide work. */
  group: Name.optional(),
  /** What was being applied: `vip`, `lb`, `mysql`, ... (one apply target of the shim). */
  target: z.string().min(1).max(64),
  /** The command line that failed (as the CommandRunner logged it). */
  command: z.string().max(500),
  /** Its exit code; null when it could not be started or was killed. */
  exitCode: z.number().int().nullable(),
  /** The last part of its stderr. */
  stderrTail: z.string().max(500).default(""),
  /** When this failure began, epoch ms on the node's clock (for display only). */
  since: z.number().int().min(0),
});
export type ApplyError = z.infer<typeof ApplyError>;

/**
 * The control plane did not answer this node for a while (two or more heartbeats in a row failed):
 * sent with every heartbeat until one is answered, so the control plane records the outage as the
 * node saw it. Times are ms before this heartbeat was sent, on the node's monotonic clock.
 */
export const OutageReport = z.strictObject({
  /** The same for every report of one outage (the seq of its first failed heartbeat). */
  id: z.number().int().min(0),
  /** When the first failed heartbeat was sent. */
  fromAgoMs: z.number().int().min(0),
  /** Heartbeats that failed, and how the last one failed. */
  failures: z.number().int().min(0),
  lastError: z.string().max(300),
  /** Groups this node held when the outage began: kept throughout (on failsafe promises), or lost when its lease ended. */
  held: z
    .array(z.strictObject({ group: Name, epoch: z.number().int().min(0), keptOnPromises: z.boolean(), lostAgoMs: z.number().int().min(0).optional() }))
    .max(64),
});
export type OutageReport = z.infer<typeof OutageReport>;

/**
 * Another host's VIP as this member saw it: how long before this heartbeat was sent (the shim's
 * monotonic clock) a connection to the group's VIP last got an answer (node-shim/vip-answers.ts).
 */
export const VipAnswer = z.strictObject({ group: Name, agoMs: z.number().int().min(0) });
export type VipAnswer = z.infer<typeof VipAnswer>;

export const HeartbeatRequest = z.strictObject({
  /** Protocol version the shim speaks; absent: 1 (shims from before versioning). */
  protocol: z.number().int().min(1).max(1000).optional(),
  /** Random id of this shim process; a new one means the shim restarted. */
  bootId: z.string().min(1).max(64),
  /** Increases by one per heartbeat within a boot. */
  seq: z.number().int().min(0),
  /**
   * The shim's monotonic clock (ms) when it sent this heartbeat. Only differences between the
   * heartbeats of one boot mean anything: they show a heartbeat that spent seconds in the network
   * (held in a socket while a link was down, delivered after) and is no news. Optional: older shims.
   */
  sentMs: z.number().min(0).optional(),
  /**
   * The spec version of the desired state whose peer list this shim asks for failsafe promises:
   * the control plane gives a group whose holder went silent only to a server that holder knew
   * as a peer by then (one it never asked cannot have promised). Absent: no desired state yet.
   */
  peersOf: z.number().int().min(0).optional(),
  /** Probe results by group name (and `chime-agent` on compute nodes). */
  probes: z.record(z.string().max(63), ProbeReport).default({}),
  /** Groups whose VIP this node holds right now under a valid local lease. */
  holding: z.array(GroupEpoch).max(64).default([]),
  /**
   * Groups this node released (VIP removed, fenced) at the given epoch. `handedTo`: it sent a
   * direct handoff of the group to that server (v7); without it, it handed the group to nobody.
   */
  released: z.array(ReleasedGroup).max(64).default([]),
  /** Shadow groups: the VIPs as they are on this host (v3). */
  observed: z.array(ObservedVip).max(64).optional(),
  /**
   * Groups this node does not hold whose VIP answered its checks lately (optional: older shims do
   * not send it). The availability ledger dates a silent holder's outage by it.
   */
  vipAnswered: z.array(VipAnswer).max(64).optional(),
  /** Results of operations the control plane asked this node to run. */
  operations: z.array(OperationResult).max(64).default([]),
  /** What this node's local limits allow (optional: older shims do not send it). */
  limits: LimitsReport.optional(),
  /** Desired state and operations this node refused because its local limits do not allow them. */
  limitRefusals: z.array(LimitRefusal).max(64).optional(),
  /** The control plane did not answer this node for a while; this heartbeat is the first it may get. */
  outage: OutageReport.optional(),
  /**
   * Groups this node must let go of (told to release, or shutting down) whose VIP it could not
   * remove yet: the control plane waits out the lease instead of granting the group elsewhere.
   */
  unreleased: z.array(z.strictObject({ group: Name, epoch: z.number().int().min(0), detail: z.string().max(500) })).max(64).optional(),
  /** Grants this node refused because it promised the holder (failsafe) not to take the group. */
  refused: z.array(z.strictObject({ group: Name, epoch: z.number().int().min(0), promisedTo: Name })).max(64).optional(),
  /**
   * This node is stopping (SIGTERM) or otherwise standing down: it is not a candidate until a
   * heartbeat says otherwise (a new shim process starts without it).
   */
  leaving: z.boolean().optional(),
  /** Apply failures that persist right now (optional: older shims do not send it). */
  applyErrors: z.array(ApplyError).max(32).optional(),
  shimVersion: z.string().max(64).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;
export type HeartbeatRequestInput = z.input<typeof HeartbeatRequest>;

export const Grant = z.strictObject({
  group: Name,
  epoch: z.number().int().min(1),
  /** Lease length; the shim counts it from when it sent the heartbeat this replies to. */
  ttlMs: z.number().int().min(1),
});
export type Grant = z.infer<typeof Grant>;

export const RealServer = z.strictObject({ node: Name, ip: Ipv4, weight: z.number().int().min(0) });
export type RealServer = z.infer<typeof RealServer>;

/**
 * What the control plane wants one node to do for one group.
 * - `holder`: hold the VIP (only while a grant for `epoch` is valid), serve/direct.
 * - `release`: drop the VIP and fence now, then report `released` at `epoch`.
 * - `standby`: do not hold the VIP; stay ready.
 */
export const DesiredGroup = z.strictObject({
  name: Name,
  mode: GroupMode,
  vip: Ipv4,
  prefix: z.number().int(),
  interface: z.string(),
  ports: z.array(PortSpec),
  probe: ProbeSpec,
  member: z.boolean(),
  /** The service's process name (/proc/PID/comm), when the spec gives one (v6). */
  process: z.string().max(15).optional(),
  role: z.enum(["holder", "release", "standby"]),
  /** Shadow mode (v3): decide and report, act on nothing (no VIP, no load balancing, no fencing). */
  shadow: z.boolean().optional(),
  epoch: z.number().int().min(0),
  holder: Name.nullable(),
  /**
   * Direct handoff (v7), on the holder: when its own probe for the group fails, it may drop the
   * VIP and, once the VIP is verified gone, hand the group straight to this server over the
   * failsafe channel instead of waiting for the control plane's word. Given only when the control
   * plane would move the group to that server anyway (a handoff-capable mode, no hold-down).
   */
  handoffTo: Name.optional(),
  /**
   * Direct handoff (v7), on the server named by the holder's `handoffTo`: it may take the group at
   * `epoch + 1` when `handoffFrom` hands it over, under a lease counted from the heartbeat this
   * desired state answers (the control plane gives the group to nobody else before that lease
   * has surely ended). A desired state without it withdraws it.
   */
  handoffFrom: Name.optional(),
  /** active-active-lb on the holder (the director): healthy real servers to balance across. */
  lb: z
    .strictObject({
      backend: z.enum(["ipvs", "nftables"]),
      scheduler: z.enum(["rr", "wrr", "sh"]),
      realServers: z.array(RealServer),
    })
    .optional(),
  /** mysql-writer: the topology, and whether to use the strict fence. */
  mysql: z
    .strictObject({
      topology: z.enum(["dual-master", "galera"]),
      strictFence: z.boolean(),
      /**
       * Holder only, when another server was the last writer: its last reported binlog position.
       * The applier promotes only once this server has applied all of it.
       */
      requiredGtid: z.string().max(4000).optional(),
      /** An operator forced this promotion accepting possible data loss (switchover acceptDataLoss). */
      acceptDataLoss: z.boolean().optional(),
    })
    .optional(),
});
export type DesiredGroup = z.infer<typeof DesiredGroup>;

/** Work the control plane asks a node's shim to run once (fencing, evacuation, heal, backfill). */
/**
 * Provenance (v5): who caused this operation: `admin:<token id>` (asked through the API) or
 * `engine: <reason>` (the engine's own decision, e.g. a dead compute node's fence).
 */
const RequestedBy = z.string().max(300).optional();

export const Operation = z.discriminatedUnion("kind", [
  // v2: `password` (instead of passwordEnv) and `authorization` carry fence credentials the
  // control plane holds; v1 shims are never sent such an operation (worker/cluster/protocol.ts).
  z.strictObject({ id: z.string(), requestedBy: RequestedBy, kind: z.literal("fence-ipmi"), target: Name, host: z.string(), user: z.string(), passwordEnv: z.string().optional(), password: z.string().optional() }),
  z.strictObject({ id: z.string(), requestedBy: RequestedBy, kind: z.literal("fence-webhook"), target: Name, url: z.string(), authorization: z.string().optional() }),
  z.strictObject({
    id: z.string(),
    requestedBy: RequestedBy,
    kind: z.literal("evacuate"),
    target: Name,
    url: z.string(),
    method: z.enum(["POST", "PUT"]),
    body: z.string(),
    /** Stable for one failed compute node across re-issues (sent as the Idempotency-Key header). */
    idempotencyKey: z.string().max(200).optional(),
  }),
  z.strictObject({ id: z.string(), requestedBy: RequestedBy, kind: z.literal("minio-heal"), alias: z.string() }),
  z.strictObject({
    id: z.string(),
    requestedBy: RequestedBy,
    kind: z.literal("influxdb-backfill"),
    group: Name,
    fromNode: Name,
    fromUrl: z.string(),
    /** A database name, or "*" for every database of the peer except _internal. */
    database: z.string(),
    startMs: z.number(),
    endMs: z.number(),
    /** Stop after about this many points; the result's progress says where (bounded runs). */
    maxPoints: z.number().int().min(1).optional(),
  }),
]);
export type Operation = z.infer<typeof Operation>;

export const DesiredState = z.strictObject({
  cluster: z.string(),
  node: Name,
  specVersion: z.number().int().min(1),
  heartbeatIntervalMs: z.number().int(),
  leaseTtlMs: z.number().int(),
  /** Cluster or node maintenance: the shim keeps what it holds but expects no moves. */
  maintenance: z.boolean(),
  groups: z.array(DesiredGroup),
  operations: z.array(Operation).default([]),
  /** The spec's policy.failsafe: a holder cut off from the control plane may keep its groups on its peers' promises. */
  failsafe: z.boolean().default(false),
  /** The spec's policy.driftMarginMs: a failsafe promise lasts this much longer than asked, as the control plane waits. */
  driftMarginMs: z.number().int().min(0).optional(),
  /**
   * Every other server node, with the groups it is a member of: a holder needs the promise of
   * every other member of the group (failsafe), at the peer's IP unless the shim config says.
   */
  peers: z.array(z.strictObject({ name: Name, ip: Ipv4, groups: z.array(Name) })).optional(),
  /** This node's own IP (v5): where its failsafe listener goes unless the shim config says. */
  ip: Ipv4.optional(),
  /**
   * Keys failsafe requests between this cluster's shims are signed with, current first (v5; while
   * failsafe is on): derived by the control plane, so failsafe needs no secret in the shim config
   * (one there wins). Requests signed with any listed key are accepted (a key rotation).
   */
  failsafeKeys: z.array(z.string().min(32).max(100)).max(4).optional(),
  /** Provenance (v5): who made the spec version this desired state comes from (`admin:<token id>`). */
  specBy: z.string().max(300).optional(),
});
export type DesiredState = z.infer<typeof DesiredState>;

export const HeartbeatReply = z.strictObject({
  /** The version this reply is in (the shim's own); absent in v1. */
  protocol: z.number().int().optional(),
  grants: z.array(Grant),
  desired: DesiredState,
});
export type HeartbeatReply = z.infer<typeof HeartbeatReply>;

/**
 * Grants pushed to a node the moment the engine decides them (the old holder's lease surely over),
 * without waiting for this node's next heartbeat. They count as a reply to this node's heartbeat
 * `seq` of boot `bootId`, the last one the control plane received: the shim counts each lease from
 * when it SENT that heartbeat, the control plane from its decision (later), so the rule holds. The
 * desired state that goes with them is the one a reply would carry (v3).
 */
export const PushedGrants = z.strictObject({
  type: z.literal("grant"),
  bootId: z.string().min(1).max(64),
  seq: z.number().int().min(0),
  grants: z.array(Grant).min(1),
});
export const PushedGrantsMessage = PushedGrants.extend({ desired: DesiredState });
export type PushedGrantsMessage = z.infer<typeof PushedGrantsMessage>;
export type PushedGrants = z.infer<typeof PushedGrants>;

/** Why a heartbeat sent on the watch socket was not taken (the HTTP route's status and problem detail). */
export const HeartbeatRefused = z.strictObject({
  type: z.literal("refused"),
  /** The refused heartbeat's seq, when it could be read. */
  seq: z.number().int().min(0).nullable(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
});

/** Messages the Durable Object sends over the watch socket. */
export const WatchMessage = z.discriminatedUnion("type", [
  /** Desired state changed: heartbeat now to pick up grants and the new desired state. */
  z.strictObject({ type: z.literal("desired"), desired: DesiredState }),
  z.strictObject({ type: z.literal("hello"), node: Name, specVersion: z.number().int() }),
  /** The answer to a heartbeat sent on the socket, correlated by its `seq`. */
  z.strictObject({ type: z.literal("reply"), seq: z.number().int().min(0), reply: HeartbeatReply }),
  HeartbeatRefused,
  PushedGrantsMessage,
]);
export type WatchMessage = z.infer<typeof WatchMessage>;

/**
 * What a node sends on its watch socket: a heartbeat, exactly the HTTP route's body. The socket was
 * opened with the node's token, so messages carry none. A text "ping" is answered "pong" by the
 * runtime without waking the Durable Object (and WebSocket protocol pings cost nothing at all).
 */
export const SocketHeartbeat = z.strictObject({ type: z.literal("heartbeat"), request: z.unknown() });
export type SocketHeartbeat = z.infer<typeof SocketHeartbeat>;
