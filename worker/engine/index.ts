// The pure failover engine (see README, "How it stays split-brain safe").
export { candidates, whyNotCandidate } from "./candidates.js";
export { isLate, nextAlarm, nextDeadline, SILENCE_CHECK_MS } from "./deadlines.js";
export { desiredFor } from "./desired.js";
export { inRestartGrace, leaseEnd } from "./lease-rules.js";
export { boot, newPersistedState } from "./state.js";
export { isShadowGroup, SHADOW_MATCH_MS, shadowReport } from "./shadow.js";
export type { ShadowGroupReport, ShadowReportEntry, ShadowVerdict } from "./shadow.js";
export { statusView } from "./status.js";
export { step } from "./step.js";
export * from "./types.js";
