// What `apply` would change, field by field: `~ policy.leaseTtlMs: 3000 -> 2500`,
// `+ nodes[server3]: {...}`, `- groups[minio]`. Lists of named things (nodes, groups) are matched
// by name, so reordering is no change and an insertion is one line. Fence credentials are never
// printed: the API shows a stored one as "(stored encrypted)", and a file's value is "(not shown)".

/** What the API shows instead of a stored fence credential (sending it back keeps that value). */
export const STORED_SECRET = "(stored encrypted)";
const SECRET_KEYS = new Set(["password", "authorization"]);
const isSecretPath = (path: string) => /\.fence\.(password|authorization)$/.test(path);

/** A value for display, with fence credentials replaced. */
function mask(v: unknown, path: string): unknown {
  if (typeof v === "string" && isSecretPath(path)) return v === STORED_SECRET ? v : "(not shown)";
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x, i) => mask(x, `${path}[${i}]`));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEYS.has(k) && path.endsWith("fence") ? (x === STORED_SECRET ? x : "(not shown)") : mask(x, `${path}.${k}`)]));
}

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
  if (c.op === "~") {
    if (isSecretPath(c.path)) return `~ ${c.path}: ${c.from === STORED_SECRET ? STORED_SECRET : "(not shown)"} -> (not shown; the file's value is sent)`;
    return `~ ${c.path}: ${show(mask(c.from, c.path))} -> ${show(mask(c.to, c.path))}`;
  }
  return `${c.op} ${c.path}: ${show(mask(c.op === "+" ? c.to : c.from, c.path))}`;
}
