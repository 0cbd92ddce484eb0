// Runs inside a lab namespace so the harness (in the root namespace) never talks to lab hosts
// itself: reads one JSON request per line on stdin, answers one JSON line on stdout.
//   in:  {"id":1,"method":"GET","url":"http://10.231.70.2:8787/v1/...","token":"...","body":{...}}
//   out: {"id":1,"status":200,"body":<json or text>} or {"id":1,"status":0,"error":"..."}
import { createInterface } from "node:readline";

const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let id = null;
  try {
    const q = JSON.parse(line);
    id = q.id;
    const res = await fetch(q.url, {
      method: q.method,
      headers: { authorization: `Bearer ${q.token}`, ...(q.body === undefined ? {} : { "content-type": "application/json" }), ...(q.headers ?? {}) },
      body: q.body === undefined ? undefined : JSON.stringify(q.body),
      signal: AbortSignal.timeout(q.timeoutMs ?? 5000),
    });
    const text = await res.text();
    let body = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // keep text
    }
    process.stdout.write(JSON.stringify({ id, status: res.status, body }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ id, status: 0, error: String(err?.cause?.code ?? err?.message ?? err) }) + "\n");
  }
});
rl.on("close", () => process.exit(0));
