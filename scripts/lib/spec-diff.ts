// What changed between two cluster specs, one line per change, with list items matched by name
// ("nodes[server3]: added", "policy.leaseTtlMs: 3000 -> 2000"). npm start prints it before it
// updates a loaded cluster from an edited spec file.
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
const named = (a: unknown[]): a is { name: string }[] => a.length > 0 && a.every((x) => typeof x === "object" && x !== null && typeof (x as { name?: unknown }).name === "string");

function walk(path: string, a: unknown, b: unknown, out: string[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (Array.isArray(a) && Array.isArray(b) && (named(a) || a.length === 0) && (named(b) || b.length === 0)) {
    const am = new Map((a as { name: string }[]).map((x) => [x.name, x]));
    const bm = new Map((b as { name: string }[]).map((x) => [x.name, x]));
    for (const k of am.keys()) if (!bm.has(k)) out.push(`${path}[${k}]: removed`);
    for (const [k, v] of bm) {
      if (!am.has(k)) out.push(`${path}[${k}]: added`);
      else walk(`${path}[${k}]`, am.get(k), v, out);
    }
    const order = (m: Map<string, unknown>) => [...m.keys()].filter((k) => am.has(k) && bm.has(k)).join(",");
    if (order(am) !== order(bm)) out.push(`${path}: order changed`);
    return;
  }
  const isObj = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push(`${p}: added ${show(b[k])}`);
      else if (!(k in b)) out.push(`${p}: removed (was ${show(a[k])})`);
      else walk(p, a[k], b[k], out);
    }
    return;
  }
  out.push(`${path || "(spec)"}: ${show(a)} -> ${show(b)}`);
}

export function specChanges(before: unknown, after: unknown): string[] {
  const out: string[] = [];
  walk("", before, after, out);
  return out;
}
