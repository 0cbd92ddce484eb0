// What `apply` would change, field by field: `~ policy.leaseTtlMs: 3000 -> 2500`,
// `+ nodes[server3]: {...}`, `- groups[minio]`. Lists of named things (nodes, groups) are matched
// by name, so reordering is no change and an insertion is one line.

export interface Change {
  op: "+" | "-" | "~";
  path: string;
  from?: unknown;
  to?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const named = (v: unknown): v is { name: string }[] => Array.isArray(v) && v.length > 0 && v.every((x) => isObject(x) && typeof x.name === "string");
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function diffValues(a: unknown, b: unknown, path = "", out: Change[] = []): Change[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return out;
  if (isObject(a) && isObject(b)) {
    for (const k of Object.keys(a)) if (!(k in b)) out.push({ op: "-", path: join(path, k), from: a[k] });
    for (const k of Object.keys(b)) {
      if (!(k in a)) out.push({ op: "+", path: join(path, k), to: b[k] });
      else diffValues(a[k], b[k], join(path, k), out);
    }
    return out;
  }
  if ((named(a) || (Array.isArray(a) && a.length === 0)) && (named(b) || (Array.isArray(b) && b.length === 0)) && (named(a) || named(b))) {
    const before = new Map((a as { name: string }[]).map((x) => [x.name, x]));
    const after = new Map((b as { name: string }[]).map((x) => [x.name, x]));
    for (const [name, x] of before) if (!after.has(name)) out.push({ op: "-", path: `${path}[${name}]`, from: x });
    for (const [name, x] of after) {
      if (!before.has(name)) out.push({ op: "+", path: `${path}[${name}]`, to: x });
      else diffValues(before.get(name), x, `${path}[${name}]`, out);
    }
    return out;
  }
  if (a === undefined) out.push({ op: "+", path, to: b });
  else if (b === undefined) out.push({ op: "-", path, from: a });
  else out.push({ op: "~", path, from: a, to: b });
  return out;
}

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
};

export function formatChange(c: Change): string {
  if (c.op === "~") return `~ ${c.path}: ${show(c.from)} -> ${show(c.to)}`;
  return `${c.op} ${c.path}: ${show(c.op === "+" ? c.to : c.from)}`;
}
