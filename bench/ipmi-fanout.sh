#!/bin/bash
# Runs bench/ipmi-fanout.ts. Env: BMCS (200) ROUNDS (9 warm) COLD_ROUNDS (7) WARMUP (4) IPMITOOL (1; 0 skips the
# ~40 s ipmitool round). Needs ipmi_sim/sdrcomp (openipmi), ipmitool, ipmipower (freeipmi-tools).
set -euo pipefail
exec "$(dirname "$0")/run-ts.sh" bench/ipmi-fanout.ts
