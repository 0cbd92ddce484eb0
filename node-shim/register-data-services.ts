// Data-service probes, appliers, fence hooks and operation handlers register themselves on
// import; this file is the one place the shim pulls them in.
import { registerFenceHook, registerGroupApplier, registerOperationHandler } from "./apply/types.js";
import { evacuate } from "./operations/evacuate.js";
import { fenceIpmi } from "./operations/fence-ipmi.js";
import { fenceWebhook } from "./operations/fence-webhook.js";
import { influxdbBackfill } from "./operations/influxdb-backfill.js";
import { minioHeal } from "./operations/minio-heal.js";

// mysql2 loads only on nodes that have a mysql-writer group (see probes/index.ts).
const mysqlApply = () => import("./apply/mysql.js");
registerGroupApplier("mysql-writer", async (g, holding, ctx) => {
  if (g.member) await (await mysqlApply()).mysqlWriterApplier(g, holding, ctx);
});
registerFenceHook("mysql-writer", async (g, ctx) => {
  if (g.member) await (await mysqlApply()).mysqlWriterFence(g, ctx);
});
registerOperationHandler("fence-ipmi", fenceIpmi);
registerOperationHandler("fence-webhook", fenceWebhook);
registerOperationHandler("evacuate", evacuate);
registerOperationHandler("minio-heal", minioHeal);
registerOperationHandler("influxdb-backfill", influxdbBackfill);
