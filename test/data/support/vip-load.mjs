// Insert load through the writer VIP, run inside the client's network namespace by the mysql
// failover suite and benchmark: N connections, each inserting its own sequence numbers at an even
// share of the target rate, reconnecting when the VIP moves. Every acknowledged insert is printed
// as "A <seq> <server_id> <time>" (time: ms, performance.timeOrigin-based, comparable across
// processes); nothing else counts as acknowledged. A client reconnects with a 250 ms connect
// timeout. Stops on "stop" on stdin (bounded anyway).
// usage: node vip-load.mjs <host> <port> <user> <password> <connections> <inserts/s> <maxSeconds>
import mysql from "mysql2/promise";

const [host, port, user, password, conns, rate, maxSeconds] = process.argv.slice(2);
const N = Number(conns);
const perConn = Number(rate) / N;
const until = performance.now() + Number(maxSeconds) * 1000;
const now = () => (performance.timeOrigin + performance.now()).toFixed(1);
let stopped = false;
process.stdin.on("data", (d) => {
  if (String(d).includes("stop")) stopped = true;
});
const out = [];
const flush = () => {
  if (out.length) process.stdout.write(out.splice(0).join(""));
};
const timer = setInterval(flush, 50);

async function worker(i) {
  let seq = i * 10_000_000;
  let c = null;
  let sid = 0;
  let next = performance.now();
  while (!stopped && performance.now() < until) {
    if (!c) {
      try {
        c = await mysql.createConnection({ host, port: Number(port), user, password, connectTimeout: 250 });
        c.on("error", () => undefined);
        const [r] = await c.query({ sql: "SELECT @@server_id AS s", timeout: 1000 });
        sid = Number(r[0].s);
      } catch (err) {
        out.push(`E ${i} connect ${err.code ?? err.message} ${now()}\n`);
        c?.destroy();
        c = null;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
    }
    const s = seq++;
    try {
      await c.query({ sql: "INSERT INTO loaddb.t (seq, at) VALUES (?, ?)", values: [s, Date.now()], timeout: 1500 });
      out.push(`A ${s} ${sid} ${now()}\n`);
    } catch (err) {
      // Not acknowledged (refused, killed, timed out): never counted, never retried.
      out.push(`E ${i} insert ${err.code ?? err.errno ?? err.message} ${now()}\n`);
      if (err.fatal || err.code === "PROTOCOL_SEQUENCE_TIMEOUT" || err.errno === undefined) {
        c.destroy();
        c = null;
      } else if (err.errno === 1290) {
        // read-only: this server is not the writer any more; the VIP moves, so reconnect.
        c.destroy();
        c = null;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    next += 1000 / perConn;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -1000) next = performance.now(); // fell far behind (outage): do not burst
  }
  c?.destroy();
}

await Promise.all(Array.from({ length: N }, (_, i) => worker(i + 1)));
clearInterval(timer);
flush();
process.stdout.write("DONE\n");
