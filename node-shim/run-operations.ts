// One-shot operations the control plane asks this node to run (fence a compute node, evacuate,
// heal, backfill): each id runs once; its result goes back in the next heartbeat.
import type { Operation, OperationResult } from "../protocol/heartbeat.js";
import { type ApplyContext, operationHandlerFor } from "./apply/types.js";
import { log } from "./log.js";

export class OperationsRunner {
  private readonly started = new Set<string>();

  constructor(
    private readonly ctx: ApplyContext,
    private readonly onDone: (result: OperationResult) => void,
  ) {}

  run(ops: Operation[]): void {
    for (const op of ops) {
      if (this.started.has(op.id)) continue;
      this.started.add(op.id);
      const handler = operationHandlerFor(op.kind);
      log("operation started", { id: op.id, kind: op.kind });
      const run: Promise<Omit<OperationResult, "id">> = handler ? handler(op, this.ctx) : Promise.resolve({ ok: false, detail: `this shim cannot run '${op.kind}'` });
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
