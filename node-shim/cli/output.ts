// Writing to the terminal: colour only on a TTY (NO_COLOR turns it off, FORCE_COLOR on), a clean
// exit when the reader goes away (`| head`), and the two kinds of error a command ends with.

/** A problem with how the CLI was called or configured (missing URL, bad argument): exit 2. */
export class UsageError extends Error {}

/** The command ran but did not get what was asked (a move that did not happen in time): exit 1. */
export class CommandFailed extends Error {}

export function colourEnabled(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true && env.TERM !== "dumb";
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90, bold: 1 } as const;
export type Colour = keyof typeof CODES;

/** `paint("red", text)`, or the text as is when colour is off. */
export function painter(on: boolean): (c: Colour, text: string) => string {
  return on ? (c, text) => `\x1b[${CODES[c]}m${text}\x1b[${c === "bold" ? 22 : 39}m` : (_c, text) => text;
}

/** Width of a string as the terminal shows it (colour codes take no room). */
export const visibleLength = (s: string) => s.replace(/\x1b\[\d+m/g, "").length;

export const out = (text: string) => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
export const note = (text: string) => void process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);

/**
 * When the reader of stdout goes away (`chime-ha events -f | head`), stop quietly with success:
 * there is nobody left to tell anything.
 */
export function exitQuietlyOnClosedPipe(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
  }
}

/** Any error as one line (a multi-line message is joined with "; "). */
export function oneLine(message: string): string {
  return message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join("; ");
}

/** `90s`, `2m`, `1h30m`, `1d`, `500ms` -> milliseconds; a plain number is milliseconds. */
export function parseDuration(text: string, what: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * unit[m[2] as keyof typeof unit];
    matched = re.lastIndex;
  }
  if (matched !== text.length || text.length === 0) throw new UsageError(`${what}: '${text}' is not a duration (like 30s, 10m, 2h, 1d)`);
  return total;
}

/** An ISO time, epoch milliseconds, or a duration meaning "that long ago". */
export function parseTime(text: string, what: string, now = Date.now()): number {
  if (/^\d{10,}$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw new UsageError(`${what}: '${text}' is not a valid time`);
    return t;
  }
  return now - parseDuration(text, what);
}

export function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what}: expected a whole number of at least 1, got '${text}'`);
  return n;
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    // One listener per wait, removed when the wait ends: a long --follow adds none.
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

/** An AbortSignal that fires on Ctrl-C / SIGTERM (loops end cleanly). */
export function interruptSignal(): AbortSignal {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return ctl.signal;
}
