// The one way the shim runs commands: execFile (never a shell), with a timeout, logged as a JSON
// line. Modes: `real` runs everything; `dry-run` runs only reads and logs the changes it would
// make; `recording` runs nothing, records every command and answers reads from a script, so tests
// can assert the exact commands a reconciler issues.
import { execFile } from "node:child_process";
import { log } from "./log.js";

export type RunMode = "real" | "dry-run" | "recording";

export interface RunOptions {
  /** Sent on stdin (e.g. an nft ruleset for `nft -f -`). */
  input?: string;
  timeoutMs?: number;
  /** False for commands that only read state; dry-run still runs those. Default true. */
  mutates?: boolean;
  /** Extra environment (e.g. IPMI_PASSWORD for ipmitool -E). */
  env?: Record<string, string>;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RecordedCommand {
  cmd: string;
  args: string[];
  input?: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: RecordedCommand,
    readonly result: CommandResult,
  ) {
    super(`${[command.cmd, ...command.args].join(" ")} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

type Responder = (c: RecordedCommand) => Partial<CommandResult> | undefined;

export class CommandRunner {
  /** Every command, in order (recording mode; dry-run records the skipped changes too). */
  readonly recorded: RecordedCommand[] = [];
  private responders: Responder[] = [];

  constructor(readonly mode: RunMode = "real") {}

  /** Recording mode: answer commands matching `match` (a prefix of cmd + args) with `result`. */
  respond(match: string[] | Responder, result?: Partial<CommandResult>): this {
    if (typeof match === "function") this.responders.unshift(match);
    else this.responders.unshift((c) => (match.every((m, i) => [c.cmd, ...c.args][i] === m) ? result : undefined));
    return this;
  }

  /** Recorded commands as shell-like strings, for readable assertions. */
  lines(): string[] {
    return this.recorded.map((c) => [c.cmd, ...c.args].join(" ") + (c.input !== undefined ? " <<<" + JSON.stringify(c.input) : ""));
  }

  clear(): void {
    this.recorded.length = 0;
  }

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const command: RecordedCommand = opts.input === undefined ? { cmd, args } : { cmd, args, input: opts.input };
    const mutates = opts.mutates ?? true;
    if (this.mode === "recording" || (this.mode === "dry-run" && mutates)) {
      this.recorded.push(command);
      let answer: Partial<CommandResult> | undefined;
      for (const r of this.responders) if ((answer = r(command))) break;
      const result = { code: 0, stdout: "", stderr: "", ms: 0, ...answer };
      log("command", { cmd, args, mode: this.mode, code: result.code, ms: 0, skipped: true });
      return result;
    }
    const started = performance.now();
    const result = await new Promise<CommandResult>((resolve) => {
      const child = execFile(
        cmd,
        args,
        { timeout: opts.timeoutMs ?? 5000, maxBuffer: 16 * 1024 * 1024, env: opts.env ? { ...process.env, ...opts.env } : process.env },
        (err, stdout, stderr) => {
          const ms = Math.round((performance.now() - started) * 10) / 10;
          if (!err) return resolve({ code: 0, stdout, stderr, ms });
          const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
          const code = typeof e.code === "number" ? e.code : e.killed ? 124 : 127;
          resolve({ code, stdout: stdout ?? "", stderr: (stderr || e.message) ?? "", ms });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
    log("command", { cmd, args, mode: this.mode, code: result.code, ms: result.ms, ...(result.code ? { stderr: result.stderr.trim().slice(0, 500) } : {}) });
    return result;
  }

  /** run(), throwing CommandError on a non-zero exit. */
  async check(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const r = await this.run(cmd, args, opts);
    if (r.code !== 0) throw new CommandError(opts.input === undefined ? { cmd, args } : { cmd, args, input: opts.input }, r);
    return r;
  }
}
