// Samples @@global.read_only of two MariaDB servers in one instant, for the mysql failover suite:
// one process, one open root connection per server (their sockets), both queries sent together
// every `everyMs`. A sample with both answering 0 is two writable servers. Prints one JSON
// summary when "stop" arrives on stdin: sample count, largest gap and read spread, every
// double-writable sample, and each server's last-writable / first-writable instants.
// usage: node ro-sampler.mjs <socketA> <socketB> <everyMs>
import mysql from "mysql2/promise";

const [sockA, sockB, everyMs] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const conns = [null, null];
const socks = [sockA, sockB];
const state = [null, null];
const s = { samples: 0, durationMs: 0, maxGapMs: 0, maxSpreadMs: 0, doubleWritable: [], writableFrom: [[], []], writableUntil: [[], []] };
let last = 0;
let stopped = false;
process.stdin.on("data", (d) => {
  if (String(d).includes("stop")) stopped = true;
});

async function read(i) {
  try {
    // A hung server (SIGSTOP) must not hang the sampler: bounded connect and query.
    conns[i] ??= await mysql.createConnection({ socketPath: socks[i], user: "root", password: "", connectTimeout: 200 });
    const [r] = await conns[i].query({ sql: "SELECT @@global.read_only AS ro", timeout: 200 });
    return { ro: Number(r[0].ro), at: now() };
  } catch {
    conns[i]?.destroy();
    conns[i] = null;
    return { ro: null, at: now() };
  }
}

const began = now();
const bounded = began + 600_000;
while (!stopped && now() < bounded) {
  const started = now();
  const [a, b] = await Promise.all([read(0), read(1)]);
  const at = (a.at + b.at) / 2;
  if (last) s.maxGapMs = Math.max(s.maxGapMs, at - last);
  s.maxSpreadMs = Math.max(s.maxSpreadMs, Math.abs(a.at - b.at));
  last = at;
  s.samples++;
  if (a.ro === 0 && b.ro === 0) s.doubleWritable.push(Math.round(at));
  [a, b].forEach((x, i) => {
    const writable = x.ro === 0;
    if (writable && state[i] !== true) s.writableFrom[i].push(Math.round(x.at));
    if (!writable && state[i] === true) s.writableUntil[i].push(Math.round(x.at));
    state[i] = writable;
  });
  const wait = Number(everyMs) - (now() - started);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
s.durationMs = Math.round(now() - began);
for (const c of conns) c?.destroy();
process.stdout.write(JSON.stringify(s) + "\n");
