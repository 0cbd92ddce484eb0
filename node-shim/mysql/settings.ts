// `settings.mysql` in the shim config (the schema lives in probes/mysql-settings.ts, which the
// config loader checks at start): the account, its password, and the peer as a connection target.
import { readFileSync } from "node:fs";
import { formatPath } from "../../protocol/spec.js";
import { MysqlSettings, SettingsError } from "../probes/mysql-settings.js";

export { MysqlSettings, SettingsError };

export function mysqlSettings(settings: Record<string, unknown>): MysqlSettings {
  if (settings.mysql === undefined) {
    throw new SettingsError("settings.mysql is missing from the shim config: the mysql probe needs the agent's own account (user and password, passwordEnv or passwordFile; see examples/shim.yaml)");
  }
  const r = MysqlSettings.safeParse(settings.mysql);
  if (!r.success) {
    throw new SettingsError(r.error.issues.map((i) => `settings.mysql${i.path.length ? "." + formatPath(i.path) : ""}: ${i.message}`).join("; "));
  }
  return r.data;
}

export function password(s: MysqlSettings): string {
  if (s.password !== undefined) return s.password;
  if (s.passwordEnv) return process.env[s.passwordEnv] ?? "";
  if (s.passwordFile) return readFileSync(s.passwordFile, "utf8").trim();
  return "";
}

/** The same account, aimed at the peer. */
export function peerSettings(s: MysqlSettings): MysqlSettings | null {
  if (!s.peer) return null;
  const { socketPath, host, port } = s.peer;
  return { ...s, host, port, socketPath };
}
