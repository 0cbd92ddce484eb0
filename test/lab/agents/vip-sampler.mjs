// VIP sampler, run inside one server namespace: every `everyMs` asks `ip -o -4 addr show` (one
// long-lived `ip -batch -` process, so sampling at 100 Hz costs no fork per sample) and prints
// one line per sample: <wall-clock ms when asked> <bitmask of the VIPs (argv order) configured>.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const [everyMs, ...vips] = process.argv.slice(2);
const every = Number(everyMs);
const ip = spawn("ip", ["-o", "-4", "-batch", "-"], { stdio: ["pipe", "pipe", "inherit"] });
ip.on("exit", () => process.exit(1));
const asked = [];
let cur = null;
const emit = () => {
  if (cur) process.stdout.write(`${cur.t} ${cur.mask}\n`);
};
// Every answer starts with loopback's line (ifindex 1, always configured): it separates samples.
createInterface({ input: ip.stdout }).on("line", (line) => {
  if (line.startsWith("1: lo")) {
    emit();
    cur = { t: asked.shift() ?? Date.now(), mask: 0 };
    return;
  }
  if (!cur) return;
  vips.forEach((v, i) => {
    if (line.includes(` ${v}/`)) cur.mask |= 1 << i;
  });
});
const start = Date.now();
let n = 0;
const tick = () => {
  // Never queue more than a few questions if ip falls behind.
  if (asked.length < 3) {
    asked.push(Date.now());
    ip.stdin.write("addr show\n");
  }
  n++;
  setTimeout(tick, Math.max(0, start + n * every - Date.now()));
};
tick();
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
