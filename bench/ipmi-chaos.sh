#!/bin/bash
# Runs bench/ipmi-chaos.ts. Env: READS (30 per mode and tool) RATE (0.2 per datagram) SEED (1) LANES (3)
# MODES (all: flip,truncate,duplicate,replay,drop,delay,reorder,swap-session,bad-hmac).
set -euo pipefail
command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null || \
  apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends openipmi ipmitool
exec "$(dirname "$0")/run-ts.sh" bench/ipmi-chaos.ts
