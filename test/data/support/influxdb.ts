// Private InfluxDB 1.x instances (Debian's influxd) for the data suite: a generated config with
// every directory under one temp dir and loopback ports; stopped by PID only.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../shim/support/control-plane.js";
import { killProcess, stopProcess } from "../../support/process.js";

const INFLUXD = "/usr/bin/influxd";

export function influxdMissing(): string | null {
  return existsSync(INFLUXD) ? null : `${INFLUXD} not found (Debian's influxdb is installed by .ci/run)`;
}

export class InfluxInstance {
  child: ChildProcess | null = null;
  port = 0;
  private rpcPort = 0;
  private output = "";

  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) {
      this.port = await freePort();
      this.rpcPort = await freePort();
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(
        join(this.dir, "influxdb.conf"),
        [
          "reporting-disabled = true",
          `bind-address = "127.0.0.1:${this.rpcPort}"`,
          "[meta]",
          `  dir = "${join(this.dir, "meta")}"`,
          "[data]",
          `  dir = "${join(this.dir, "data")}"`,
          `  wal-dir = "${join(this.dir, "wal")}"`,
          "  query-log-enabled = false",
          "  wal-fsync-delay = \"0s\"",
          "[http]",
          `  bind-address = "127.0.0.1:${this.port}"`,
          "  log-enabled = false",
          "[monitor]",
          "  store-enabled = false",
          "[continuous_queries]",
          "  enabled = false",
          "",
        ].join("\n"),
      );
    }
    const child = spawn(INFLUXD, ["run", "-config", join(this.dir, "influxdb.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (d: Buffer) => (this.output = (this.output + String(d)).slice(-4000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const deadline = performance.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${this.name}: influxd exited ${child.exitCode}: ${this.output}`);
      try {
        const r = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(500) });
        if (r.status === 204) return;
      } catch {
        // not up yet
      }
      if (performance.now() > deadline) throw new Error(`${this.name}: influxd not up within 30 s: ${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async kill(): Promise<void> {
    await killProcess(this.child);
    this.child = null;
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 10_000);
    this.child = null;
  }

  async query(db: string, q: string): Promise<{ results: { series?: { name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]; error?: string }[] }> {
    const r = await fetch(`${this.url}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`, { method: "POST" });
    return (await r.json()) as never;
  }

  async write(db: string, lines: string[]): Promise<boolean> {
    try {
      const r = await fetch(`${this.url}/write?db=${encodeURIComponent(db)}&precision=ms`, { method: "POST", body: lines.join("\n"), signal: AbortSignal.timeout(1000) });
      return r.status === 204;
    } catch {
      return false;
    }
  }
}
