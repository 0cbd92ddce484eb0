// The pure failover engine (see DESIGN.md, "The lease protocol" and "Decisions").
export { desiredFor } from "./desired.js";
export { boot, newPersistedState } from "./state.js";
export { statusView } from "./status.js";
export { candidates, nextDeadline, step, whyNotCandidate } from "./step.js";
export * from "./types.js";
