// minio (multi-node multi-drive): the VIP goes to a live node whose cluster has write quorum.
import type { ModeRules } from "./types.js";

export const minio: ModeRules = {
  ineligible(report) {
    const m = report?.minio;
    if (!m) return "no minio report";
    if (!m.live) return "minio not live";
    if (!m.writeQuorum) return "minio cluster has no write quorum";
    return null;
  },
};
