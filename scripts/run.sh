#!/usr/bin/env bash
# The main job: set up (when needed), then bring up the cloud tier and the simulated humanoid fleet.
#   scripts/run.sh                 run until Ctrl-C
#   scripts/run.sh --scenario      run the scripted scenario, print the summary, exit
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# shellcheck disable=SC1091
source scripts/env.sh
exec "$SIGMA_ROOT/install/sigma_bringup/lib/sigma_bringup/demo" "$@"
