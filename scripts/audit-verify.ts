// `npm run audit:verify -- export.ndjson [--from <hash>]`: check an export of GET /v1/audit
// offline (protocol/audit.ts). A whole export starts from 64 zeros; a page from the hash of the
// row before it (--from, default: the first row's own prevHash, which only checks the page).
// Exit 0 and the head to keep, or exit 1 naming the first row that was changed or follows a gap.
import { readFileSync } from "node:fs";
import { AUDIT_GENESIS, AuditEntry, verifyAuditChain } from "../protocol/audit.js";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
const fromIdx = args.indexOf("--from");
const text = readFileSync(file ?? 0, "utf8");
const rows = text
  .split("\n")
  .filter((l) => l.trim())
  .map((l, i) => {
    const r = AuditEntry.safeParse(JSON.parse(l));
    if (!r.success) {
      console.error(`line ${i + 1} is not an audit entry: ${r.error.issues[0]?.message}`);
      process.exit(2);
    }
    return r.data;
  });
const from = fromIdx >= 0 ? args[fromIdx + 1]! : rows[0]?.id === 1 ? AUDIT_GENESIS : (rows[0]?.prevHash ?? AUDIT_GENESIS);
const v = await verifyAuditChain(rows, from);
if (v.ok) console.log(`ok: ${v.checked} rows; head ${v.head ? `${v.head.id} ${v.head.hash}` : "(empty)"}`);
else console.error(`NOT OK after ${v.checked} good rows: row ${v.problem!.id}: ${v.problem!.reason}`);
process.exit(v.ok ? 0 : 1);
