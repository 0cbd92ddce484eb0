// Cloudflare prices for `npm run bench:cost`, in one place, each with its source and the date it
// was read. USD, Workers Paid plan (Standard usage model). "included" is the monthly allowance of
// the account's plan; "perMillion" the price of each further million units. Update the date (and
// the bench's figures in README.md) when a price changes.
export const PRICES_READ_ON = "2026-11-30";

export interface Price {
  what: string;
  unit: string;
  /** Included per month on Workers Paid (shared by every cluster of the account). */
  included: number;
  perMillion: number;
  source: string;
  note?: string;
}

export const PLAN_BASE_USD_PER_MONTH = { usd: 5, source: "https://developers.cloudflare.com/workers/platform/pricing/", what: "Workers Paid minimum per account and month" };

export const PRICES = {
  workerRequests: {
    what: "Workers requests",
    unit: "requests",
    included: 10_000_000,
    perMillion: 0.3,
    source: "https://developers.cloudflare.com/workers/platform/pricing/",
  },
  workerCpuMs: {
    what: "Workers CPU time",
    unit: "CPU ms",
    included: 30_000_000,
    perMillion: 0.02,
    source: "https://developers.cloudflare.com/workers/platform/pricing/",
  },
  doRequests: {
    what: "Durable Objects requests",
    unit: "requests (RPC calls, fetches, alarm invocations; incoming WebSocket messages at 1/20)",
    included: 1_000_000,
    perMillion: 0.15,
    source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
    note: "incoming WebSocket messages are billed 20:1; outgoing messages, protocol pings and setWebSocketAutoResponse replies are free",
  },
  doDuration: {
    what: "Durable Objects duration",
    unit: "GB-s (128 MB per object while active; nothing while hibernation-eligible)",
    included: 400_000,
    perMillion: 12.5,
    source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  },
  doRowsWritten: {
    what: "Durable Objects SQLite rows written",
    unit: "rows (each key put, each setAlarm/deleteAlarm)",
    included: 50_000_000,
    perMillion: 1.0,
    source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
    note: "each setAlarm() is billed as one row written",
  },
  d1RowsWritten: {
    what: "D1 rows written",
    unit: "rows",
    included: 50_000_000,
    perMillion: 1.0,
    source: "https://developers.cloudflare.com/d1/platform/pricing/",
  },
  queueOperations: {
    what: "Queues operations",
    unit: "operations (3 per message: write, read, delete)",
    included: 1_000_000,
    perMillion: 0.4,
    source: "https://developers.cloudflare.com/queues/platform/pricing/",
  },
  logEvents: {
    what: "Workers Logs events",
    unit: "log events (one per logged invocation; head_sampling_rate in wrangler.toml)",
    included: 20_000_000,
    perMillion: 0.6,
    source: "https://developers.cloudflare.com/workers/observability/logs/workers-logs/",
  },
} satisfies Record<string, Price>;

export type PriceKey = keyof typeof PRICES;

/**
 * A self-hosted quorum for comparison (README, "Cost"): these are assumptions, not measurements.
 * One 3-member etcd or Consul server quorum (2 vCPU, 4 GB, SSD each, a mid-priced provider's
 * general-purpose VM), sized at 1,000 clusters x 4 nodes heartbeating once a second (4,000 lease
 * renewals/s) per quorum; operator time, backups, monitoring and cross-site networking not counted.
 */
export const SELF_HOSTED = { vmUsdPerMonth: 24, vmsPerQuorum: 3, clustersPerQuorumAt1s: 1000 };
