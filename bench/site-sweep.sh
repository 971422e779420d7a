#!/bin/bash
# Runs bench/site-sweep.ts (needs a built dist/: `npm run build`). Flags: --bmcs 200,1000 --rounds 7 --api-seconds 10
# --api-rate 500 --no-api --json --farm process|hook. Installs ipmi_sim/sdrcomp (openipmi) and ipmipower (freeipmi-tools) when missing.
set -euo pipefail
exec "$(dirname "$0")/run-ts.sh" bench/site-sweep.ts "$@"
