// Apply targets are reconcilers: read the actual state, diff it against the desired state and
// run only the commands that close the gap, all through the one CommandRunner.
import type { DesiredGroup, Operation, OperationResult } from "../../protocol/heartbeat.js";
import type { CommandRunner } from "../command-runner.js";

export interface Reconciler<Desired> {
  readonly name: string;
  reconcile(desired: Desired): Promise<void>;
}

export interface ApplyContext {
  runner: CommandRunner;
  /** Settings from the shim config (credentials for data services, drain time, ...). */
  settings: Record<string, unknown>;
  /**
   * Whether this node holds `group` under a valid lease at this very moment. Appliers ask it
   * immediately before an irreversible step (promotion: read_only = 0) and abort if not.
   */
  holds?: (group: string) => boolean;
}

/**
 * Fences run when this node must stop acting for a group (lease expired, release, shutdown),
 * after the VIP is gone. They must be quick and must not throw on "already fenced".
 */
export type FenceHook = (group: DesiredGroup, ctx: ApplyContext) => Promise<void>;

/** Per-group work beyond the VIP (e.g. mysql read_only). Called on every reconcile. */
export type GroupApplier = (group: DesiredGroup, holding: boolean, ctx: ApplyContext) => Promise<void>;

/** One-shot operations the control plane asks for (fence a compute node, evacuate, heal, backfill). */
export type OperationHandler<K extends Operation["kind"] = Operation["kind"]> = (
  op: Extract<Operation, { kind: K }>,
  ctx: ApplyContext,
) => Promise<Omit<OperationResult, "id">>;

const fenceHooks = new Map<string, FenceHook[]>();
const groupAppliers = new Map<string, GroupApplier[]>();
const operationHandlers = new Map<string, OperationHandler>();

export function registerFenceHook(mode: DesiredGroup["mode"], hook: FenceHook): void {
  fenceHooks.set(mode, [...(fenceHooks.get(mode) ?? []), hook]);
}
export function registerGroupApplier(mode: DesiredGroup["mode"], applier: GroupApplier): void {
  groupAppliers.set(mode, [...(groupAppliers.get(mode) ?? []), applier]);
}
export function registerOperationHandler<K extends Operation["kind"]>(kind: K, handler: OperationHandler<K>): void {
  operationHandlers.set(kind, handler as unknown as OperationHandler);
}

export const fenceHooksFor = (mode: string): FenceHook[] => fenceHooks.get(mode) ?? [];
export const groupAppliersFor = (mode: string): GroupApplier[] => groupAppliers.get(mode) ?? [];
export const operationHandlerFor = (kind: string): OperationHandler | undefined => operationHandlers.get(kind);
