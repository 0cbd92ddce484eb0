// Data-service probes, appliers, fence hooks and operation handlers register themselves on
// import; this file is the one place the shim pulls them in.
import { mysqlWriterApplier, mysqlWriterFence } from "./apply/mysql.js";
import { registerFenceHook, registerGroupApplier } from "./apply/types.js";

registerGroupApplier("mysql-writer", mysqlWriterApplier);
registerFenceHook("mysql-writer", mysqlWriterFence);
