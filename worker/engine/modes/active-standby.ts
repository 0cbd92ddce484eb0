// active-standby (chime-server API + gRPC): one holder; a healthy, live member is a candidate.
import type { ModeRules } from "./types.js";

export const activeStandby: ModeRules = {
  handoff: true,
  ineligible: () => null,
};
