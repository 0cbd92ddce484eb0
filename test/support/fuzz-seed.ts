// Randomized property and fuzz tests draw a fresh seed per run, print it, and take a fixed one
// from CHIME_FUZZ_SEED to replay a failure exactly (`CHIME_FUZZ_SEED=123 npm test`). Works in
// Node and in workerd (the worker suite passes the variable in as a binding).

/** The seed from `fromEnv` (a decimal integer) or a new random one; printed either way. */
export function fuzzSeed(suite: string, fromEnv: string | undefined): number {
  const given = fromEnv?.trim();
  let seed: number;
  if (given) {
    seed = Number(given);
    if (!Number.isSafeInteger(seed)) throw new Error(`CHIME_FUZZ_SEED must be an integer, got '${given}'`);
  } else {
    seed = Math.floor(Math.random() * 2 ** 31);
  }
  console.log(`${suite}: fuzz seed ${seed}${given ? " (from CHIME_FUZZ_SEED)" : ""}; replay with CHIME_FUZZ_SEED=${seed}`);
  return seed;
}
