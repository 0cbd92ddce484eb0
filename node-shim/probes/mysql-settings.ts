// `settings.mysql` in the shim config: the agent's own MariaDB account. Its own file (zod only),
// so the config loader can check it at start without loading the mysql driver.
import { z } from "zod";

/** The agent's own account (never an application account). */
export const MysqlSettings = z.strictObject({
  user: z.string().min(1),
  password: z.string().optional(),
  /** Environment variable or file holding the password (instead of `password`). */
  passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name").optional(),
  passwordFile: z.string().min(1).optional(),
  /** Where the local server answers (default: the shim's probeHost and the probe's port). */
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  socketPath: z.string().min(1).optional(),
  /** The other dual-master server: fenced before a promotion, checked for errant transactions. */
  peer: z
    .strictObject({ host: z.string().min(1).default("127.0.0.1"), port: z.number().int().min(1).max(65535).default(3306), socketPath: z.string().min(1).optional() })
    .optional(),
  /** Accounts whose sessions the fence leaves alone (replication users); the agent's own always stays. */
  keepUsers: z.array(z.string().min(1)).default([]),
  /** Longest wait for the SQL thread to catch up within one promotion attempt (retried on the next reconcile). */
  catchUpWaitMs: z.number().int().min(0).max(5000).default(250),
});
export type MysqlSettings = z.infer<typeof MysqlSettings>;

export class SettingsError extends Error {}
