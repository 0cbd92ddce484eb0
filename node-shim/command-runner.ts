// The one way the shim runs commands: execFile (never a shell), with a timeout, logged as a JSON
// line. Modes: `real` runs everything; `dry-run` runs only reads and logs the changes it would
// make; `recording` runs nothing, records every command and answers reads from a script, so tests
// can assert the exact commands a reconciler issues.
//
// Sessions: one long-lived process per tool (`nft -i`, `ip -batch -`) takes one command per line,
// so a lease renewal costs no process. Each line is followed by a sentinel that always fails in a
// way that names it, so every command is acknowledged (success or its error) even when the tool
// prints nothing on success. A session that dies or stops answering is restarted for the next
// command. Session commands go through the same modes, recording and JSON-line log.
//
// Fault injection: when CHIME_SHIM_FAULTS names a file, every command whose program is listed in
// it (one per line, e.g. `ip`) fails with exit code 1 ("injected fault") while the file says so.
// The failover lab uses it to make the holder's `ip` fail while it must release.
import { AsyncLocalStorage } from "node:async_hooks";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
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
  /** Log only failures (the watchdog's routine pings). */
  quiet?: boolean;
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
  /** A line sent to a long-lived session of `cmd args` (then `input` is the line). */
  session?: true;
}

export class CommandError extends Error {
  constructor(
    readonly command: RecordedCommand,
    readonly result: CommandResult,
  ) {
    super(`${[command.cmd, ...command.args].join(" ")}${command.session ? ` <<< ${command.input}` : ""} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

type Responder = (c: RecordedCommand) => Partial<CommandResult> | undefined;

/** How a session tool acknowledges each line: the sentinel to send and how to recognise its answer. */
export interface SessionProtocol {
  /** The sentinel line for command number `n` (1-based per process). */
  sentinel(n: number): string;
  /** Whether this stderr line closes command `n` (its sentinel's own error). */
  isAck(line: string, n: number, lineNo: number): boolean;
  /** Whether the command's own stderr lines (after clean()) say it failed. */
  failed(stderr: string[], lineNo: number): boolean;
  /** Lines of the sentinel's own error output to drop from the command's stderr. */
  clean(stderr: string[]): string[];
}

/** `nft -i`: a failing `list table` whose name carries the command number. */
export const NFT_SESSION: SessionProtocol = {
  sentinel: (n) => `list table ip chime_ha_ack_${n}`,
  isAck: (line, n) => line.includes(`chime_ha_ack_${n}`),
  failed: (stderr) => stderr.some((l) => l.startsWith("Error:")),
  // The sentinel's "Error: No such file or directory" precedes the line naming it.
  clean: (stderr) => stderr.slice(0, -1).filter((l) => !/^\s*\^+\s*$/.test(l)),
};

/**
 * `ip -force -batch -`: a failing lookup; ip names every failed line by its number. (`addr show`
 * of a missing device: a `link show` sentinel would leave batch-mode state behind that makes the
 * next `addr show` print links without their addresses.)
 */
export const IP_SESSION: SessionProtocol = {
  sentinel: () => "addr show dev chime-ha-ack",
  isAck: (line, _n, lineNo) => line.trim() === `Command failed -:${lineNo + 1}`,
  failed: (stderr, lineNo) => stderr.some((l) => l.trim() === `Command failed -:${lineNo}`),
  clean: (stderr) => stderr.filter((l) => !l.startsWith('Device "chime-ha-ack"')),
};

/**
 * Provenance (README, Hardening: "Local limits"): who made the shim run a command. The agent sets
 * the runner's `origin` from each desired state (spec version and who made it); work for one
 * operation runs inside `commandOrigin.run({operation, requestedBy}, ...)`. Every command's log
 * line carries both, so the node's own log answers "who made me do this".
 */
export const commandOrigin = new AsyncLocalStorage<Record<string, unknown>>();

export class CommandRunner {
  /** The desired state's provenance (spec version, who made it), on every command's log line. */
  origin: Record<string, unknown> = {};

  private from(): Record<string, unknown> {
    const op = commandOrigin.getStore();
    return op ? { ...this.origin, ...op } : this.origin;
  }

  /** Every command, in order (recording mode; dry-run records the skipped changes too). */
  readonly recorded: RecordedCommand[] = [];
  private responders: Responder[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly dryRunSeen = new Map<string, { at: number; repeats: number }>();
  private faultFile: string | null = process.env.CHIME_SHIM_FAULTS ?? null;
  private faultCache: { mtimeMs: number; cmds: Set<string> } | null = null;

  constructor(readonly mode: RunMode = "real") {}

  /** Recording mode: answer commands matching `match` (a prefix of cmd + args [+ session line]) with `result`. */
  respond(match: string[] | Responder, result?: Partial<CommandResult>): this {
    if (typeof match === "function") this.responders.unshift(match);
    else this.responders.unshift((c) => (match.every((m, i) => [c.cmd, ...c.args, ...(c.session ? [c.input!] : [])][i] === m || (c.session && i === c.args.length + 1 && c.input!.startsWith(m))) ? result : undefined));
    return this;
  }

  /** Recorded commands as shell-like strings, for readable assertions. */
  lines(): string[] {
    return this.recorded.map((c) => [c.cmd, ...c.args].join(" ") + (c.input !== undefined ? " <<<" + JSON.stringify(c.input) : ""));
  }

  clear(): void {
    this.recorded.length = 0;
  }

  /** Test hook: inject faults from this file (as CHIME_SHIM_FAULTS does), or stop (null). */
  setFaultFile(file: string | null): void {
    this.faultFile = file;
    this.faultCache = null;
  }

  /** A program listed in the fault file fails (checked on every command; cheap: one stat). */
  private injected(cmd: string, args: string[]): boolean {
    if (!this.faultFile) return false;
    // `ip netns exec NS prog ...` (tests and the lab run commands in namespaces): the program is prog.
    if (cmd === "ip" && args[0] === "netns" && args[1] === "exec" && args[3]) cmd = args[3];
    try {
      const st = statSync(this.faultFile);
      if (!this.faultCache || this.faultCache.mtimeMs !== st.mtimeMs) {
        const cmds = new Set(readFileSync(this.faultFile, "utf8").split("\n").map((l) => l.trim()).filter(Boolean));
        this.faultCache = { mtimeMs: st.mtimeMs, cmds };
      }
      return this.faultCache.cmds.has(cmd);
    } catch {
      this.faultCache = null;
      return false;
    }
  }

  private skipped(command: RecordedCommand, mutates: boolean): CommandResult | null {
    if (!(this.mode === "recording" || (this.mode === "dry-run" && mutates))) return null;
    this.recorded.push(command);
    let answer: Partial<CommandResult> | undefined;
    for (const r of this.responders) if ((answer = r(command))) break;
    const result = { code: 0, stdout: "", stderr: "", ms: 0, ...answer };
    const repeats = this.mode === "dry-run" ? this.repeatOf(command) : 0;
    if (repeats >= 0) log("command", { cmd: command.cmd, args: command.args, ...(command.session ? { session: true, line: command.input } : {}), mode: this.mode, code: result.code, ms: 0, skipped: true, ...(repeats > 0 ? { repeatsSinceLast: repeats } : {}), ...this.from() });
    return result;
  }

  /**
   * Dry-run logs changes, not passes: a skipped command the same as one logged in the last minute
   * but for its numbers (lease timeouts, address lifetimes) is a renewal, not news. -1: do not log
   * it; otherwise how many were left out since it was last logged.
   */
  private repeatOf(command: RecordedCommand): number {
    const key = [command.cmd, ...command.args, command.input ?? ""].join(" ").replace(/\d+/g, "#");
    const now = performance.now();
    const seen = this.dryRunSeen.get(key);
    if (seen && now - seen.at < 60_000) {
      seen.repeats++;
      return -1;
    }
    if (this.dryRunSeen.size > 1000) this.dryRunSeen.clear();
    this.dryRunSeen.set(key, { at: now, repeats: 0 });
    return seen?.repeats ?? 0;
  }

  /** Dry-run: reads that succeed are not logged (only what would change, and failures). */
  private quietRead(mutates: boolean, code: number): boolean {
    return this.mode === "dry-run" && !mutates && code === 0;
  }

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const command: RecordedCommand = opts.input === undefined ? { cmd, args } : { cmd, args, input: opts.input };
    const skipped = this.skipped(command, opts.mutates ?? true);
    if (skipped) return skipped;
    if (this.injected(cmd, args)) return this.fault(command);
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
    if ((!opts.quiet && !this.quietRead(opts.mutates ?? true, result.code)) || result.code !== 0) log("command", { cmd, args, mode: this.mode, code: result.code, ms: result.ms, ...(result.code ? { stderr: result.stderr.trim().slice(0, 500) } : {}), ...this.from() });
    return result;
  }

  private fault(command: RecordedCommand): CommandResult {
    const result = { code: 1, stdout: "", stderr: `injected fault: ${command.cmd} fails (CHIME_SHIM_FAULTS)`, ms: 0 };
    log("command", { cmd: command.cmd, args: command.args, ...(command.session ? { session: true, line: command.input } : {}), mode: this.mode, code: 1, ms: 0, injected: true , ...this.from() });
    return result;
  }

  /** run(), throwing CommandError on a non-zero exit. */
  async check(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const r = await this.run(cmd, args, opts);
    if (r.code !== 0) throw new CommandError(opts.input === undefined ? { cmd, args } : { cmd, args, input: opts.input }, r);
    return r;
  }

  /**
   * One line to the long-lived session `cmd args` (started on first use, restarted if it died).
   * `expectOutput`: the command prints exactly one stdout line on success (a read); it is the
   * result's stdout. Lines to one session run one at a time, in order.
   */
  async session(cmd: string, args: string[], protocol: SessionProtocol, line: string, opts: { mutates?: boolean; timeoutMs?: number; expectOutput?: boolean } = {}): Promise<CommandResult> {
    const command: RecordedCommand = { cmd, args, input: line, session: true };
    const skipped = this.skipped(command, opts.mutates ?? true);
    if (skipped) return skipped;
    if (this.injected(cmd, args)) return this.fault(command);
    const key = [cmd, ...args].join(" ");
    let s = this.sessions.get(key);
    if (!s) {
      s = new Session(cmd, args, protocol);
      this.sessions.set(key, s);
    }
    let result = await s.run(line, opts.timeoutMs ?? 2000, opts.expectOutput ?? false);
    // The process died under the command (e.g. a stop signal sent to the whole process group):
    // once more on a new one. Every line the shim sends is idempotent, so a repeat is harmless.
    if (result.code === 125) result = await s.run(line, opts.timeoutMs ?? 2000, opts.expectOutput ?? false);
    if (!this.quietRead(opts.mutates ?? true, result.code)) log("command", { cmd, args, session: true, line, mode: this.mode, code: result.code, ms: result.ms, ...(result.code ? { stderr: result.stderr.trim().slice(0, 500) } : {}), ...this.from() });
    return result;
  }

  /** End every session process (the agent's shutdown). */
  closeSessions(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}

interface Pending {
  n: number;
  lineNo: number;
  expectOutput: boolean;
  started: number;
  stderr: string[];
  stdout: string | null;
  acked: boolean;
  resolve: (r: CommandResult) => void;
  timer: NodeJS.Timeout;
}

/** One long-lived tool process; commands run one at a time (a queue), each acknowledged by its sentinel. */
class Session {
  private child: ChildProcess | null = null;
  private n = 0;
  /** Lines written to this process (ip numbers them from 1). */
  private lineNo = 0;
  private current: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** Lines given to run() and not yet finished (0: nothing queued, a new line may go at once). */
  private busy = 0;

  constructor(
    private readonly cmd: string,
    private readonly args: string[],
    private readonly protocol: SessionProtocol,
  ) {}

  run(line: string, timeoutMs: number, expectOutput: boolean): Promise<CommandResult> {
    // An idle session gets the line now, in the caller's turn: a takeover's first command must not
    // wait behind whatever else the caller does before it yields (a state file's fsync, a heartbeat).
    const go = () => this.runNow(line, timeoutMs, expectOutput);
    const p = this.busy++ === 0 ? go() : this.queue.then(go);
    const settled = p.finally(() => this.busy--);
    this.queue = settled.catch(() => undefined);
    return p;
  }

  private start(): ChildProcess {
    const child = spawn(this.cmd, this.args, { stdio: ["pipe", "pipe", "pipe"] });
    this.n = 0;
    this.lineNo = 0;
    child.on("error", () => undefined);
    child.stdin!.on("error", () => undefined);
    // Lines from a process this session has given up on (timed out, replaced) are not ours.
    createInterface({ input: child.stdout! }).on("line", (l) => this.child === child && this.onStdout(l));
    createInterface({ input: child.stderr! }).on("line", (l) => this.child === child && this.onStderr(l));
    child.once("exit", (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.finish({ code: 125, stdout: "", stderr: `session ${this.cmd} ended (${signal ?? code})`, ms: 0 });
    });
    this.child = child;
    return child;
  }

  private runNow(line: string, timeoutMs: number, expectOutput: boolean): Promise<CommandResult> {
    return new Promise<CommandResult>((resolve) => {
      const child = this.child ?? this.start();
      const n = ++this.n;
      const lineNo = this.lineNo + 1;
      this.lineNo += 2;
        const timer = setTimeout(() => {
        // Not answering: this process is no use any more; the next command starts a new one.
        const stuck = this.child;
        this.child = null;
        this.finish({ code: 124, stdout: "", stderr: `no answer from ${this.cmd} within ${timeoutMs} ms`, ms: timeoutMs });
        stuck?.kill("SIGKILL");
      }, timeoutMs);
      this.current = { n, lineNo, expectOutput, started: performance.now(), stderr: [], stdout: null, acked: false, resolve, timer };
      child.stdin!.write(`${line.replace(/\n/g, " ")}\n${this.protocol.sentinel(n)}\n`);
    });
  }

  private onStdout(line: string): void {
    const c = this.current;
    if (!c || !c.expectOutput) return;
    if (c.stdout === null) c.stdout = line;
    this.maybeDone();
  }

  private onStderr(line: string): void {
    const c = this.current;
    if (!c) return;
    if (this.protocol.isAck(line, c.n, c.lineNo)) {
      c.acked = true;
      this.maybeDone();
      return;
    }
    c.stderr.push(line);
  }

  private maybeDone(): void {
    const c = this.current;
    if (!c || !c.acked) return;
    const cleaned = this.protocol.clean(c.stderr);
    const failed = this.protocol.failed(cleaned, c.lineNo);
    // A successful read also needs its one line of output (stdout and stderr are separate pipes).
    if (!failed && c.expectOutput && c.stdout === null) return;
    const ms = Math.round((performance.now() - c.started) * 10) / 10;
    const stderr = cleaned.join("\n");
    this.finish({ code: failed ? 1 : 0, stdout: c.stdout ?? "", stderr, ms });
  }

  private finish(r: CommandResult): void {
    const c = this.current;
    if (!c) return;
    this.current = null;
    clearTimeout(c.timer);
    c.resolve(r);
  }

  close(): void {
    const child = this.child;
    this.child = null;
    child?.stdin?.end();
    child?.kill("SIGTERM");
  }
}
