#!/usr/bin/env -S node --import tsx
// chime-ha-shim [run] --config /etc/chime-ha/shim.yaml [--dry-run]   the node agent (default)
// chime-ha-shim install --control-plane URL --cluster ID --node NAME --token-file F [--root DIR]
// chime-ha-shim uninstall [--root DIR] [--keep-config]
// chime-ha-shim upgrade --binary NEW [--root DIR]
// chime-ha-shim cleanup [--config F]      the unit's ExecStopPost (VIPs gone, fences run)
// chime-ha-shim limits --spec FILE --node NAME [--interface IFACE]   a tight `limits:` block
// chime-ha-shim --version
// The node agent: heartbeats, leases, VIPs, load balancing, fencing. See node-shim/agent.ts; the
// install commands are in node-shim/install/.
import { Command } from "commander";
import { ShimAgent } from "../agent.js";
import { CommandRunner } from "../command-runner.js";
import { ConfigError, loadShimConfig, tokenSource } from "../config.js";
import { cleanupAfterStop } from "../cleanup.js";
import { noteHandoverKept, runtimeDir, takeHandover } from "../install/handover.js";
import { install, InstallError } from "../install/install.js";
import { uninstall } from "../install/uninstall.js";
import { upgrade } from "../install/upgrade.js";
import { readSpecFile, formatSpecProblem } from "../cli/spec-file.js";
import { limitsFromSpec } from "../limits.js";
import { log } from "../log.js";
import { stringify } from "yaml";
import { isSingleExecutable, versionLine } from "../version.js";
import "../register-data-services.js";

function runAgent(opts: { config: string; dryRun?: boolean }): void {
  let agent: ShimAgent;
  try {
    const config = loadShimConfig(opts.config);
    const dryRun = opts.dryRun === true || config.dryRun;
    agent = new ShimAgent({ config, token: tokenSource(config, (file) => log("token file changed: using the new token", { file }), opts.config), runner: new CommandRunner(dryRun ? "dry-run" : "real") });
    log("version", { version: versionLine() });
    agent.start();
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      // An upgrade hands over: stop without releasing, the next process adopts the VIPs.
      const handover = signal === "SIGTERM" && takeHandover(runtimeDir(), process.pid);
      // For the unit's stop hook (cleanup): leave these VIPs alone, the next process adopts them.
      if (handover) noteHandoverKept(runtimeDir(), process.pid);
      const release = config.releaseOnSigterm && !handover;
      log("signal", { signal, release, ...(handover ? { handover: "upgrade: VIPs stay for the next process" } : {}) });
      void agent.stop(release, { handover }).finally(() => process.exit(0));
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
}

/** Install commands: their failures are one clear line and exit 1. */
const guarded =
  <T>(fn: (o: T) => Promise<string[]>) =>
  async (o: T) => {
    try {
      for (const line of await fn(o)) process.stdout.write(`${line}\n`);
    } catch (err) {
      if (!(err instanceof InstallError || err instanceof ConfigError || (err as Error).name === "CommandError")) throw err;
      process.stderr.write(`chime-ha-shim: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };

const program = new Command().name("chime-ha-shim").description("chime-ha node agent: reports probe results and applies the control plane's decisions").version(versionLine(), "-V, --version");

program
  .command("run", { isDefault: true })
  .description("run the agent (the default)")
  .requiredOption("-c, --config <file>", "shim config (YAML)", "/etc/chime-ha/shim.yaml")
  .option("--dry-run", "run reads, log every change instead of making it")
  .action(runAgent);

program
  .command("install")
  .description("install this executable as the node's agent: config, token file (0600), systemd unit; enable and start it")
  .requiredOption("--control-plane <url>", "the control plane (your Worker's URL)")
  .requiredOption("--cluster <id>", "cluster id (<site>.<name>)")
  .requiredOption("--node <name>", "this node's name in the spec")
  .requiredOption("--token-file <file>", "file holding the node token (shown once by the API)")
  .option("--interface <iface>", "interface for every VIP on this node")
  .option("--binary <file>", "executable to install (default: this single executable)")
  .option("--root <dir>", "install into this directory instead of the live system (nothing is started)", "/")
  .option("--force", "replace an existing config")
  .option("--no-start", "enable the service but do not start it")
  .action(
    guarded(async (o: { controlPlane: string; cluster: string; node: string; tokenFile: string; interface?: string; binary?: string; root: string; force?: boolean; start: boolean }) => {
      const binary = o.binary ?? (isSingleExecutable() ? process.execPath : undefined);
      if (!binary) throw new InstallError("run install from the single executable (npm run build:shim), or pass --binary");
      return install({ ...o, binary, force: o.force === true, noStart: !o.start }, new CommandRunner("real"));
    }),
  );

program
  .command("uninstall")
  .description("stop and remove the agent, its own addresses (<iface>:cha) and rules (nftables ip chime_ha, IPVS on those addresses), and its files")
  .option("--root <dir>", "uninstall from this directory instead of the live system", "/")
  .option("--keep-config", "keep /etc/chime-ha (config and token)")
  .action(guarded((o: { root: string; keepConfig?: boolean }) => uninstall({ root: o.root, keepConfig: o.keepConfig === true }, new CommandRunner("real"))));

program
  .command("upgrade")
  .description("replace the installed executable and restart without moving a VIP (handover)")
  .requiredOption("--binary <file>", "the new chime-ha-shim executable")
  .option("--root <dir>", "upgrade under this directory (nothing is restarted)", "/")
  .action(guarded((o: { binary: string; root: string }) => upgrade(o, new CommandRunner("real"))));

program
  .command("cleanup")
  .description("the unit's stop hook: make this node's VIPs inert and remove them, run the fences of the groups it held (skipped after an upgrade handover)")
  .requiredOption("-c, --config <file>", "shim config (YAML)", "/etc/chime-ha/shim.yaml")
  .action(
    guarded(async (o: { config: string }) => {
      const config = loadShimConfig(o.config);
      try {
        return await cleanupAfterStop(new CommandRunner(config.dryRun ? "dry-run" : "real"), { stateDir: config.stateDir, runtimeDir: runtimeDir(), settings: config.settings });
      } catch (err) {
        // One line for `systemctl status`; the lease filter keeps a VIP left behind inert.
        throw new InstallError(`cleanup: ${(err as Error).message}`);
      }
    }),
  );

program
  .command("limits")
  .description("print a tight `limits:` block for this node's shim config from the cluster spec: exactly the VIPs, interfaces, ports, real servers, BMC hosts, credential variables, URLs and operations the spec gives it")
  .requiredOption("--spec <file>", "the cluster spec (YAML or JSON)")
  .requiredOption("--node <name>", "this node's name in the spec")
  .option("--interface <iface>", "the interface the shim config puts every VIP on")
  .action(
    guarded(async (o: { spec: string; node: string; interface?: string }) => {
      const r = readSpecFile(o.spec);
      if (!r.ok) throw new InstallError(`${o.spec}: ${r.problems.map(formatSpecProblem).join("; ")}`);
      try {
        const block = limitsFromSpec(r.spec, o.node, o.interface);
        return [`# local limits for ${o.node} from ${o.spec} (add to /etc/chime-ha/shim.yaml; widen by hand when the spec grows)`, stringify({ limits: block }).trimEnd()];
      } catch (err) {
        throw new InstallError((err as Error).message);
      }
    }),
  );

// No top-level await: the single executable runs this as CommonJS.
void program.parseAsync();
