// One JSON line per decision and per command, on stdout, so journald/any collector can parse it.
export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stdout.write(line + "\n");
let quiet = false;

/** Tests and the CLI redirect or silence the log. */
export function setLogSink(next: LogSink | null): void {
  quiet = next === null;
  if (next) sink = next;
}

export function log(msg: string, fields: LogFields = {}): void {
  if (quiet) return;
  sink(JSON.stringify({ t: new Date().toISOString(), msg, ...fields }));
}
