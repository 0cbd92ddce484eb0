// The operator CLI's commands, one file each; bin/chime-ha.ts runs this program.
import { Command } from "commander";
import { registerEvents } from "./events.js";
import { registerExport } from "./export-keepalived.js";
import { registerMaintenance } from "./maintenance.js";
import { registerPlan } from "./plan.js";
import { registerStatus } from "./status.js";
import { registerSwitchover } from "./switchover.js";
import { registerValidate } from "./validate.js";

export function buildProgram(): Command {
  const program = new Command()
    .name("chime-ha")
    .description("chime-ha operator CLI (control plane URL and token from CHIME_HA_URL / CHIME_HA_TOKEN)")
    .option("--url <url>", "control plane base URL (default: $CHIME_HA_URL)")
    .option("--token <token>", "API token (default: $CHIME_HA_TOKEN)");
  registerStatus(program);
  registerEvents(program);
  registerSwitchover(program);
  registerMaintenance(program);
  registerValidate(program);
  registerPlan(program);
  registerExport(program);
  return program;
}
