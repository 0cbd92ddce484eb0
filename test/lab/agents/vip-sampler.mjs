// VIP sampler, run inside one server namespace: every `everyMs` it asks `ip -o -4 addr show` (one
// long-lived `ip -batch -` process, so sampling at 100 Hz costs no fork per sample) and, when the
// chime-ha lease filter exists, `list table ip chime_ha_lease` (one long-lived `nft -j -i`).
// One line per sample:
//   <wall-clock ms when asked> <configured mask> <effective mask>
// bit i = the i-th VIP (argv order). CONFIGURED: the address is on an interface. EFFECTIVE: it is
// configured and the kernel lets traffic through: the VIP is not under the lease filter
// (`managed`), or its lease element (`leased`) is alive. Without the filter (keepalived, or before
// the shim set it up) effective == configured.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const [everyMs, ...vips] = process.argv.slice(2);
const every = Number(everyMs);
const ip = spawn("ip", ["-o", "-4", "-batch", "-"], { stdio: ["pipe", "pipe", "inherit"] });
ip.on("exit", () => process.exit(1));

// The lease filter, read by a long-lived nft session: one JSON line per `list table`, or an error.
let nft = null;
let filter = null; // { managed: Set, leased: Set } as of the last answer; null: no filter
const nftWaiting = [];
function startNft() {
  nft = spawn("nft", ["-j", "-i"], { stdio: ["pipe", "pipe", "pipe"] });
  nft.on("exit", () => {
    nft = null;
    filter = null;
    while (nftWaiting.length) nftWaiting.shift()(null);
  });
  createInterface({ input: nft.stdout }).on("line", (line) => {
    let sets = null;
    try {
      const j = JSON.parse(line);
      sets = { managed: new Set(), leased: new Set() };
      for (const o of j.nftables ?? []) {
        const s = o.set;
        if (!s || (s.name !== "managed" && s.name !== "leased")) continue;
        for (const e of s.elem ?? []) sets[s.name].add(typeof e === "string" ? e : e.elem?.val);
      }
    } catch {
      // not an answer
    }
    nftWaiting.shift()?.(sets);
  });
  // A missing table answers on stderr: no filter (yet).
  createInterface({ input: nft.stderr }).on("line", (line) => {
    if (line.startsWith("Error:")) nftWaiting.shift()?.(null);
  });
}
startNft();

const asked = [];
let cur = null;
const pending = [];
const emit = (s) => {
  const eff = s.filter === null ? s.mask : vips.reduce((m, v, i) => (s.mask & (1 << i) && (!s.filter.managed.has(v) || s.filter.leased.has(v)) ? m | (1 << i) : m), 0);
  process.stdout.write(`${s.t} ${s.mask} ${eff}\n`);
};
const flush = () => {
  while (pending.length && pending[0].mask !== undefined && pending[0].filter !== undefined) emit(pending.shift());
};
// Every answer starts with loopback's line (ifindex 1, always configured): it separates samples
// (a sample's mask is known when the next answer begins).
const closeSample = () => {
  if (cur) {
    cur.sample.mask = cur.mask;
    flush();
  }
};
createInterface({ input: ip.stdout }).on("line", (line) => {
  if (line.startsWith("1: lo")) {
    closeSample();
    cur = { sample: asked.shift(), mask: 0 };
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
  // Never queue more than a few questions if ip or nft falls behind.
  if (asked.length < 3 && nftWaiting.length < 3) {
    const s = { t: Date.now(), mask: undefined, filter: undefined };
    asked.push(s);
    pending.push(s);
    ip.stdin.write("addr show\n");
    if (nft) {
      nftWaiting.push((f) => {
        s.filter = f;
        flush();
      });
      nft.stdin.write("list table ip chime_ha_lease\n");
    } else s.filter = null;
  }
  n++;
  setTimeout(tick, Math.max(0, start + n * every - Date.now()));
};
tick();
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
