#!/bin/bash
# Compiles one bench/*.ts (with the src/ and test/harness/ files it imports) into a temp dir and runs it with node;
# the bench's own .sh wrapper names the file and installs the peers it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
entry=${1:?usage: bench/run-ts.sh bench/NAME.ts [args]}
shift
out=$(mktemp -d "${TMPDIR:-/tmp}/rackhand-bench-build-$$-XXXX")
trap 'rm -rf "$out"' EXIT
npx --no-install tsc --ignoreConfig --outDir "$out" --rootDir . --module nodenext --moduleResolution nodenext \
  --target es2022 --strict --skipLibCheck --types node "$entry"
# src/version.ts reads the version from the package.json above it
node -e 'const p=require("./package.json"); process.stdout.write(JSON.stringify({ type: "module", version: p.version }))' > "$out/package.json"
ln -s "$PWD/node_modules" "$out/node_modules"
# The benches' plain JavaScript helpers, and what the harness finds from the repository root (the built daemon
# in bin/ and dist/, templates): the compiled tree stands in for the repository.
mkdir -p "$out/bench"
cp bench/*.mjs "$out/bench/"
for d in bin dist pxe-templates ramdisk; do [ -e "$d" ] && ln -s "$PWD/$d" "$out/$d"; done
node "$out/${entry%.ts}.js" "$@"
