// The operator CLI's commands, one file each; bin/chime-ha.ts runs this program. Errors are
// thrown (never printed here): the bin turns each into one line and an exit code.
import { Command } from "commander";
import { registerAckFence } from "./ack-fence.js";
import { registerApply } from "./apply.js";
import { CLI_VERSION } from "./client.js";
import { registerCompletion } from "./completion.js";
import { registerConfig } from "./context-cmd.js";
import { registerDelete } from "./delete.js";
import { registerEvents } from "./events.js";
import { registerExport } from "./export-keepalived.js";
import { registerGet } from "./get.js";
import { registerImport } from "./import-keepalived.js";
import { registerShadowReport } from "./shadow-report.js";
import { registerMaintenance } from "./maintenance.js";
import { registerOperation } from "./operation.js";
import { registerPlan } from "./plan.js";
import { registerReport } from "./report.js";
import { registerStatus } from "./status.js";
import { registerSwitchover } from "./switchover.js";
import { registerToken } from "./token.js";
import { registerValidate } from "./validate.js";

export function buildProgram(): Command {
  const program = new Command()
    .name("chime-ha")
    .description(
      "chime-ha operator CLI. The control plane comes from --url/--token(-file), else CHIME_HA_URL and CHIME_HA_TOKEN / CHIME_HA_TOKEN_FILE, else the current context (chime-ha config --help).",
    )
    .version(CLI_VERSION, "-V, --version")
    .option("--context <name>", "use this context from the config file ($CHIME_HA_CONTEXT)")
    .option("--url <url>", "control plane base URL ($CHIME_HA_URL)")
    .option("--token <token>", "API token ($CHIME_HA_TOKEN; prefer --token-file: arguments show in ps)")
    .option("--token-file <file>", "file holding the API token ($CHIME_HA_TOKEN_FILE)")
    .showSuggestionAfterError(true)
    // Errors come back as exceptions; the bin prints them as one line.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerStatus(program);
  registerEvents(program);
  registerReport(program);
  registerSwitchover(program);
  registerMaintenance(program);
  registerApply(program);
  registerGet(program);
  registerDelete(program);
  registerAckFence(program);
  registerOperation(program);
  registerToken(program);
  registerValidate(program);
  registerPlan(program);
  registerExport(program);
  registerConfig(program);
  registerCompletion(program);
  registerImport(program);
  registerShadowReport(program);
  return program;
}
