#!/usr/bin/env -S node --import tsx
// chime-ha-shim --config /etc/chime-ha/shim.yaml [--dry-run]
// The node agent: heartbeats, leases, VIPs, load balancing, fencing. See node-shim/agent.ts.
import { Command } from "commander";
import { ShimAgent } from "../agent.js";
import { CommandRunner } from "../command-runner.js";
import { ConfigError, loadShimConfig, tokenSource } from "../config.js";
import { log } from "../log.js";
import "../register-data-services.js";

const program = new Command()
  .name("chime-ha-shim")
  .description("chime-ha node agent: reports probe results and applies the control plane's decisions")
  .requiredOption("-c, --config <file>", "shim config (YAML)", "/etc/chime-ha/shim.yaml")
  .option("--dry-run", "run reads, log every change instead of making it")
  .parse();

const opts = program.opts<{ config: string; dryRun?: boolean }>();
let agent: ShimAgent;
try {
  const config = loadShimConfig(opts.config);
  const dryRun = opts.dryRun === true || config.dryRun;
  agent = new ShimAgent({ config, token: tokenSource(config, (file) => log("token file changed: using the new token", { file }), opts.config), runner: new CommandRunner(dryRun ? "dry-run" : "real") });
  agent.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("signal", { signal, release: config.releaseOnSigterm });
    void agent.stop(config.releaseOnSigterm).finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
} catch (err) {
  if (err instanceof ConfigError) {
    // One line naming the file and the field; systemd shows it in `systemctl status`.
    process.stderr.write(`chime-ha-shim: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
