// `chime-ha validate SPEC`: every problem with its exact path; exit 1 when there is any.
import type { Command } from "commander";
import { formatSpecProblem, readSpecFile } from "./spec-file.js";

export interface ValidateOutcome {
  ok: boolean;
  text: string;
}

export function validateCommand(file: string): ValidateOutcome {
  const r = readSpecFile(file);
  if (r.ok) {
    const s = r.spec;
    const servers = s.nodes.filter((n) => n.role === "server").length;
    return { ok: true, text: `${file}: valid (cluster ${s.name}: ${servers} server + ${s.nodes.length - servers} compute nodes, ${s.groups.length} groups)` };
  }
  return { ok: false, text: [`${file}: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}`, ...r.problems.map((p) => `  ${formatSpecProblem(p)}`)].join("\n") };
}

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check a cluster spec (YAML or JSON); prints each problem with its path, exits 1 if any")
    .argument("<spec>", "cluster spec file")
    .action((file: string) => {
      const out = validateCommand(file);
      (out.ok ? process.stdout : process.stderr).write(out.text + "\n");
      if (!out.ok) process.exitCode = 1;
    });
}
