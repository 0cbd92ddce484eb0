import type { GroupMode } from "../../../protocol/spec.js";
import { activeActiveLb } from "./active-active-lb.js";
import { activeStandby } from "./active-standby.js";
import { influxdbRead } from "./influxdb-read.js";
import { minio } from "./minio.js";
import { mysqlWriter } from "./mysql-writer.js";
import type { ModeRules } from "./types.js";

export const MODES: Record<GroupMode, ModeRules> = {
  "active-standby": activeStandby,
  "active-active-lb": activeActiveLb,
  "mysql-writer": mysqlWriter,
  "influxdb-read": influxdbRead,
  minio,
};
