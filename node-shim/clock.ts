// The shim's clock: monotonic milliseconds (never jumps with the wall clock). Leases, timers and
// the core's deadlines all use it.
export type Clock = () => number;
export const monotonic: Clock = () => performance.now();
