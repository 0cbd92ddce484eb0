#!/usr/bin/env -S node --import tsx
// chime-ha: the operator CLI (see node-shim/cli/). Installed as one built file (npm run build:cli).
// Every error ends the program with one line on stderr and a non-zero exit code:
// 2 = how it was called or configured (bad argument, no URL, unreadable token file),
// 1 = what it asked for did not happen (API refusal, not found, a --wait that timed out).
import { CommanderError } from "commander";
import { ApiError, CliNotFound, NetworkError } from "../cli/client.js";
import { complete } from "../cli/completion.js";
import { buildProgram } from "../cli/index.js";
import { CommandFailed, exitQuietlyOnClosedPipe, oneLine, UsageError } from "../cli/output.js";

exitQuietlyOnClosedPipe();
const program = buildProgram();
try {
  if (process.argv[2] === "__complete") {
    const words = process.argv.slice(4);
    for (const c of await complete(program, Number(process.argv[3]), words)) process.stdout.write(`${c}\n`);
  } else {
    await program.parseAsync();
  }
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end this way too, with code 0.
    if (err.exitCode !== 0) {
      process.stderr.write(`chime-ha: ${oneLine(err.message.replace(/^error: /, ""))} (see --help)\n`);
      process.exitCode = 2;
    }
  } else {
    const e = err as Error;
    process.stderr.write(`chime-ha: ${oneLine(e.message)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
    const known = [ApiError, NetworkError, CliNotFound, CommandFailed, UsageError].some((k) => err instanceof k);
    if (!known && process.env.CHIME_HA_DEBUG) process.stderr.write(`${e.stack}\n`);
  }
}
