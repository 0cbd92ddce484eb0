// How `npm run demo -- <command>` reaches the running `npm start`: a small HTTP endpoint on
// 127.0.0.1 (random port) that only answers with the secret written, with the port, to a file
// only this user can read (.wrangler/chime-ha-demo.json).
import { randomBytes, timingSafeEqual } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { z } from "zod";
import type { Demo } from "./demo.js";

export const DemoControlFile = z.object({ url: z.string(), secret: z.string(), pid: z.number() });

export const DEMO_COMMANDS = {
  kill: "kill <node>            crash a node: its shim SIGKILLed, its services gone (groups move after the lease)",
  revive: "revive <node>          bring a node back: services up, a fresh shim",
  stop: "stop <node>            stop a shim as systemctl would (SIGTERM: it releases its groups at once)",
  fail: "fail <node> <service>  make one service fail its probe (service = group name, or chime-agent)",
  heal: "heal <node> <service>  make it healthy again",
  status: "status                 every node's shim and services",
} as const;

export async function serveDemoControl(demo: Demo, file: string): Promise<{ close(): Promise<void> }> {
  const secret = randomBytes(24).toString("base64url");
  const server: Server = createServer((req, res) => {
    const auth = Buffer.from(req.headers.authorization ?? "");
    const want = Buffer.from(`Bearer ${secret}`);
    if (auth.length !== want.length || !timingSafeEqual(auth, want)) return void res.writeHead(401).end("unauthorized\n");
    const [cmd, node = "", service = ""] = (req.url ?? "/").split("/").filter(Boolean).map(decodeURIComponent);
    const run = async (): Promise<unknown> => {
      switch (cmd) {
        case "kill":
          return demo.kill(node);
        case "revive":
          return demo.revive(node);
        case "stop":
          return demo.stop(node);
        case "fail":
          return demo.setHealthy(node, service, false);
        case "heal":
          return demo.setHealthy(node, service, true);
        case "status":
          return demo.status();
        default:
          throw new Error(`unknown command '${cmd ?? ""}'`);
      }
    };
    run().then(
      (out) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, out })),
      (err: Error) => res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error: err.message })),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  writeFileSync(file, `${JSON.stringify({ url: `http://127.0.0.1:${port}`, secret, pid: process.pid })}\n`, { mode: 0o600 });
  return {
    close: async () => {
      rmSync(file, { force: true });
      await new Promise((r) => server.close(r));
    },
  };
}
