#!/bin/bash
# Compiles bench/fuzz-ipmi.ts (with the src/ and test/harness/ files it imports) into a temp dir and runs it.
# Env: CASES (100000 fuzzed datagrams per stage) SEED (1). Needs ipmi_sim/sdrcomp (openipmi) and ipmitool.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null || \
  apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends openipmi ipmitool
out=$(mktemp -d "${TMPDIR:-/tmp}/rackhand-bench-build-$$-XXXX")
trap 'rm -rf "$out"' EXIT
npx --no-install tsc --ignoreConfig --outDir "$out" --rootDir . --module nodenext --moduleResolution nodenext \
  --target es2022 --strict --skipLibCheck --types node bench/fuzz-ipmi.ts
echo '{"type":"module"}' > "$out/package.json"
ln -s "$PWD/node_modules" "$out/node_modules"
node "$out/bench/fuzz-ipmi.js"
