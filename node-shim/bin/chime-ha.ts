#!/usr/bin/env -S node --import tsx
// chime-ha: the operator CLI (status, events, switchover, maintenance, validate, plan).
import { ApiError, UsageError } from "../cli/client.js";
import { buildProgram } from "../cli/index.js";

try {
  await buildProgram().parseAsync();
} catch (err) {
  process.stderr.write(`chime-ha: ${(err as Error).message}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
  if (!(err instanceof ApiError) && !(err instanceof UsageError) && process.env.CHIME_HA_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
}
