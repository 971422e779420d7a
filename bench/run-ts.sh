#!/bin/bash
# bench/run-ts.sh FILE.ts [ARGS…]: compiles a TypeScript bench (with the src/ and test/harness/ files it imports)
# into a temp dir and runs it with node. The benches that drive labs (VMs, BMC farms) reuse the test harness.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$1
shift
out=$(mktemp -d "${TMPDIR:-/tmp}/rackhand-bench-build-$$-XXXX")
trap 'rm -rf "$out"' EXIT
npx --no-install tsc --ignoreConfig --outDir "$out" --rootDir . --module nodenext --moduleResolution nodenext \
  --target es2022 --strict --skipLibCheck --types node "$src"
echo '{"type":"module"}' > "$out/package.json"
ln -s "$PWD/node_modules" "$out/node_modules"
node "$out/${src%.ts}.js" "$@"
