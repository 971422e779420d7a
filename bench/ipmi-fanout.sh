#!/bin/bash
# Compiles bench/ipmi-fanout.ts (with the src/ and test/harness/ files it imports) into a temp dir and runs it.
# Env: BMCS (200) ROUNDS (9 warm) COLD_ROUNDS (7) WARMUP (4) IPMITOOL (1; 0 skips the ~40 s ipmitool round).
# Needs ipmi_sim/sdrcomp (openipmi), ipmitool, ipmipower (freeipmi-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d "${TMPDIR:-/tmp}/rackhand-bench-build-$$-XXXX")
trap 'rm -rf "$out"' EXIT
npx --no-install tsc --ignoreConfig --outDir "$out" --rootDir . --module nodenext --moduleResolution nodenext \
  --target es2022 --strict --skipLibCheck --types node bench/ipmi-fanout.ts
echo '{"type":"module"}' > "$out/package.json"
ln -s "$PWD/node_modules" "$out/node_modules"
node "$out/bench/ipmi-fanout.js"
