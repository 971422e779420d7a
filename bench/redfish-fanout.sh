#!/bin/bash
# Compiles bench/redfish-fanout.ts (with the src/ and test/harness/ files it imports) into a temp dir and runs it.
# Env: BMCS (200) ROUNDS (7 warm) COLD_ROUNDS (5) WARMUP (3) REDFISHTOOL_ROUNDS (1; each is 200 python processes, ~1-2 min here).
# The anchor, DMTF's redfishtool, is installed here when missing (root; Debian package redfishtool).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redfishtool >/dev/null; then
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends redfishtool >/dev/null
fi
command -v openssl >/dev/null || apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends openssl >/dev/null
out=$(mktemp -d "${TMPDIR:-/tmp}/rackhand-bench-build-$$-XXXX")
trap 'rm -rf "$out"' EXIT
npx --no-install tsc --ignoreConfig --outDir "$out" --rootDir . --module nodenext --moduleResolution nodenext \
  --target es2022 --strict --skipLibCheck --types node bench/redfish-fanout.ts
# src/version.ts reads the version from the package.json above it
node -e 'const p=require("./package.json"); process.stdout.write(JSON.stringify({ type: "module", version: p.version }))' > "$out/package.json"
ln -s "$PWD/node_modules" "$out/node_modules"
node "$out/bench/redfish-fanout.js"
