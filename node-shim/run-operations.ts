// One-shot operations the control plane asks this node to run (fence a compute node, evacuate,
// heal, backfill): each id runs once; its result goes back in the next heartbeat. Operations the
// node runs as the holder (fencing, evacuation: the chime-server holder's job) start only if it
// holds at that very moment; otherwise they fail at once and the control plane re-issues them.
import type { Operation, OperationResult } from "../protocol/heartbeat.js";
import { type ApplyContext, operationHandlerFor } from "./apply/types.js";
import { commandOrigin } from "./command-runner.js";
import { log } from "./log.js";

export class OperationsRunner {
  private readonly started = new Set<string>();

  constructor(
    private readonly ctx: ApplyContext,
    private readonly onDone: (result: OperationResult) => void,
    /** Null when `op` may run now, else why not. */
    private readonly mayRun: (op: Operation) => string | null = () => null,
  ) {}

  run(ops: Operation[]): void {
    for (const op of ops) {
      if (this.started.has(op.id)) continue;
      this.started.add(op.id);
      const handler = operationHandlerFor(op.kind);
      const refused = this.mayRun(op);
      // Provenance: every command this operation runs is logged with its id and who asked for it.
      const origin = { operation: op.id, requestedBy: op.requestedBy ?? "unknown (control plane older than v5)" };
      log("operation started", { id: op.id, kind: op.kind, ...origin, ...(refused ? { refused } : {}) });
      const run: Promise<Omit<OperationResult, "id">> = refused ? Promise.resolve({ ok: false, detail: `not run: ${refused}` }) : handler ? commandOrigin.run(origin, () => handler(op, this.ctx)) : Promise.resolve({ ok: false, detail: `this shim cannot run '${op.kind}'` });
      void run
        .catch((err: Error): Omit<OperationResult, "id"> => ({ ok: false, detail: `failed: ${err.message}` }))
        .then((r) => {
          log("operation finished", { id: op.id, kind: op.kind, ok: r.ok, detail: r.detail });
          // A bounded run (backfill) says how far it got: the control plane continues from there.
          this.onDone({ id: op.id, ok: r.ok, detail: r.detail, ...(r.progress ? { progress: r.progress } : {}) });
        });
    }
  }
}
