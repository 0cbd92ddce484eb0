// Client probe, run inside the lab's client namespace: every `everyMs` a new HTTP GET (fresh
// connection, `timeoutMs` budget) to `url`; one line per request when it ends:
//   <start ms (wall clock)> <1|0> <answering node | error code>
// Requests overlap when the service hangs, so the cadence never stretches.
import http from "node:http";

const [url, everyMs = "20", timeoutMs = "200"] = process.argv.slice(2);
const every = Number(everyMs);
const timeout = Number(timeoutMs);
const out = (s) => process.stdout.write(s + "\n");

function once() {
  const t = Date.now();
  let done = false;
  const finish = (ok, what) => {
    if (done) return;
    done = true;
    out(`${t} ${ok ? 1 : 0} ${what}`);
  };
  const req = http.get(url, { agent: false, timeout }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (d) => (body += d));
    res.on("end", () => finish(res.statusCode === 200, res.statusCode === 200 ? body.trim() : `http${res.statusCode}`));
    res.on("error", (e) => finish(false, e.code ?? "ERR"));
  });
  // A hard deadline for the whole exchange, not only socket idleness.
  const timer = setTimeout(() => {
    finish(false, "TIMEOUT");
    req.destroy();
  }, timeout);
  req.on("error", (e) => finish(false, e.code ?? "ERR"));
  req.on("close", () => clearTimeout(timer));
}

// Drift-free schedule; the parent ends us with SIGTERM/SIGKILL (or by closing stdin).
const start = Date.now();
let n = 0;
const tick = () => {
  once();
  n++;
  setTimeout(tick, Math.max(0, start + n * every - Date.now()));
};
tick();
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
