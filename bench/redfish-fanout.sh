#!/bin/bash
# Runs bench/redfish-fanout.ts (compiled by run-ts.sh). Flags: --json. Env: BMCS (200) ROUNDS (7 warm) COLD_ROUNDS (5)
# WARMUP (3) REDFISHTOOL_ROUNDS (1; each is 200 python processes, ~1-2 min here).
# The anchor, DMTF's redfishtool, is installed here when missing (root; Debian package redfishtool).
set -euo pipefail
cd "$(dirname "$0")/.."
for pkg in redfishtool:redfishtool openssl:openssl; do
  command -v "${pkg%%:*}" >/dev/null || apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${pkg#*:}" >/dev/null
done
exec bash bench/run-ts.sh bench/redfish-fanout.ts "$@"
