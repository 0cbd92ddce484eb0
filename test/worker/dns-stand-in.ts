// A stand-in DNS-over-HTTPS resolver (JSON API) on 127.0.0.1 for the Worker suites, so webhook
// host-name checks (worker/net/resolve.ts) run for real without the internet. Names under
// .example.test answer from the table below; tests may set more over HTTP:
//   GET  /dns-query?name=&type=A|AAAA  -> { Status, Answer: [{ type, data }] }
//   POST /_set {"name": "...", "a": [...], "aaaa": [...]}
// Started while vitest loads the worker project's config (its URL goes into the bindings).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const TABLE: Record<string, { a?: string[]; aaaa?: string[] }> = {
  "public.example.test": { a: ["93.184.216.34"] },
  "private.example.test": { a: ["10.1.2.3"] },
  "metadata.example.test": { a: ["169.254.169.254"] },
  "mixed.example.test": { a: ["93.184.216.34", "192.168.1.7"] },
  "ula.example.test": { aaaa: ["fd00:ec2::254"] },
  "mapped.example.test": { aaaa: ["::ffff:127.0.0.1"] },
};

export async function startDnsStandIn(): Promise<string> {
  const table = structuredClone(TABLE);
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    if (req.method === "POST" && u.pathname === "/_set") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const r = JSON.parse(body) as { name: string; a?: string[]; aaaa?: string[] };
        table[r.name] = { a: r.a, aaaa: r.aaaa };
        res.writeHead(200).end("{}");
      });
      return;
    }
    const name = (u.searchParams.get("name") ?? "").replace(/\.$/, "");
    const type = u.searchParams.get("type");
    const entry = table[name];
    const data = entry ? (type === "AAAA" ? entry.aaaa : entry.a) ?? [] : [];
    res.writeHead(200, { "content-type": "application/dns-json" });
    res.end(JSON.stringify({ Status: entry ? 0 : 3, Answer: data.map((d) => ({ name: `${name}.`, type: type === "AAAA" ? 28 : 1, TTL: 60, data: d })) }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`;
}
