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
# The harness finds the repository (the daemon, templates, the ramdisk sources) through BENCH_REPO_ROOT, and its
# own scripts (.py, .sh) and the benches' plain-JS helpers beside the compiled files.
export BENCH_REPO_ROOT=$PWD
# Compiled src/ modules read what lies beside them (templates, the native addon) and the ramdisk sources above them.
find bench test/harness src -type f ! -name '*.ts' ! -path '*/obj.target/*' | while read -r f; do mkdir -p "$out/$(dirname "$f")"; cp "$f" "$out/$f"; done
ln -s "$PWD/ramdisk" "$out/ramdisk"
# src/version.ts reads the version from the package.json above it
node -e 'const p=require("./package.json"); process.stdout.write(JSON.stringify({ type: "module", version: p.version }))' > "$out/package.json"
ln -s "$PWD/node_modules" "$out/node_modules"
node "$out/${entry%.ts}.js" "$@"
