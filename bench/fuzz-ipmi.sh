#!/bin/bash
# Runs bench/fuzz-ipmi.ts. Env: CASES (100000 fuzzed datagrams per stage) SEED (1).
set -euo pipefail
command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null || \
  apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends openipmi ipmitool
exec "$(dirname "$0")/run-ts.sh" bench/fuzz-ipmi.ts
