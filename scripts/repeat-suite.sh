#!/usr/bin/env bash
# Runs one vitest project N times in a row and counts the failed runs, to catch intermittent
# failures before CI does: `scripts/repeat-suite.sh worker 20`. Not part of `npm test`.
# Each failed run's output is kept in $TMPDIR/chime-repeat-<project>-<i>.log.
set -u
project=${1:?usage: repeat-suite.sh <vitest project> [runs]}
runs=${2:-20}
cd "$(dirname "$0")/.."
failed=0
for i in $(seq 1 "$runs"); do
  log="${TMPDIR:-/tmp}/chime-repeat-${project}-${i}.log"
  start=$(date +%s)
  if npx vitest run --project "$project" >"$log" 2>&1; then
    rm -f "$log"
    echo "run $i/$runs: passed in $(( $(date +%s) - start )) s"
  else
    failed=$((failed + 1))
    echo "run $i/$runs: FAILED in $(( $(date +%s) - start )) s (output: $log)"
    grep -E "FAIL|AssertionError|Error:" "$log" | head -5 | sed 's/^/    /'
  fi
done
echo "$project: $failed of $runs runs failed"
[ "$failed" -eq 0 ]
