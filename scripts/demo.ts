// `npm run demo -- <command>`: act on the demo `npm start` runs (see scripts/lib/demo.ts).
//   npm run demo -- kill server1      then watch server-api move to server2 in the console
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./lib/control-plane.js";
import { DEMO_COMMANDS, DemoControlFile } from "./lib/demo-control.js";

const usage = `usage: npm run demo -- <command>\n${Object.values(DEMO_COMMANDS)
  .map((l) => `  ${l}`)
  .join("\n")}`;

async function main(): Promise<number> {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd || cmd === "help" || cmd === "--help" || !(cmd in DEMO_COMMANDS)) {
    console.log(usage);
    return cmd && cmd !== "help" && cmd !== "--help" ? 2 : 0;
  }
  const need = cmd === "status" ? 0 : cmd === "fail" || cmd === "heal" ? 2 : 1;
  if (args.length !== need) {
    console.error(`demo ${cmd}: ${DEMO_COMMANDS[cmd as keyof typeof DEMO_COMMANDS]}`);
    return 2;
  }
  let ctl: { url: string; secret: string };
  try {
    ctl = DemoControlFile.parse(JSON.parse(readFileSync(join(REPO_ROOT, ".wrangler/chime-ha-demo.json"), "utf8")));
  } catch {
    console.error("demo: no demo is running here (start one with `npm start`; `npm start -- --no-demo` runs none)");
    return 1;
  }
  let res: Response;
  try {
    res = await fetch(`${ctl.url}/${[cmd, ...args].map(encodeURIComponent).join("/")}`, { method: "POST", headers: { authorization: `Bearer ${ctl.secret}` }, signal: AbortSignal.timeout(15_000) });
  } catch {
    console.error("demo: the demo does not answer (has `npm start` stopped?)");
    return 1;
  }
  const body = (await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }))) as { ok: boolean; out?: unknown; error?: string };
  if (!body.ok) {
    console.error(`demo ${cmd}: ${body.error}`);
    return 1;
  }
  if (Array.isArray(body.out)) {
    for (const n of body.out as { node: string; role: string; shim: string; services: Record<string, string> }[]) {
      console.log(`${n.node.padEnd(10)} ${n.role.padEnd(8)} shim ${n.shim}`);
      for (const [k, v] of Object.entries(n.services)) console.log(`${"".padEnd(20)}${k.padEnd(12)} ${v}`);
    }
  } else console.log(String(body.out));
  return 0;
}

main().then((code) => (process.exitCode = code));
