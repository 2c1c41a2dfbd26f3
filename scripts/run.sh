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
if [ ! -f launch/fleet.launch.yaml ]; then
  echo "[run] The simulated fleet and the cloud tier have not landed yet: this checkout has only the workspace,"
  echo "[run] the interfaces, the test helpers and the launch runner. Bringing up two demo talkers with sigma launch"
  echo "[run] so you can see the runner work (Ctrl-C to stop)."
  exec sigma launch src/sigma_launch/test/launch/pair.launch.yaml token:=sigma
fi
exec python -m sigma_launch.demo "$@"
