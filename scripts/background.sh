#!/usr/bin/env bash
# Run a command as background work that yields the CPU to everything else on this host:
#   bash scripts/background.sh python bench/twin_prognostics.py --healthy 50 --seed 1000
#
# Why not just `nice -n 10`: these hosts run with Linux autogroups (/proc/sys/kernel/sched_autogroup_enabled = 1),
# where the scheduler first shares the CPU fairly between sessions and only then, inside a session, by nice value.
# A niced bench started from another shell session still takes an equal share against a measurement run elsewhere
# (round 22 found a helper's `nice -n 10` twin bench in its own autogroup at nice 0). So this starts the command in a
# session of its own (setsid) and sets that session's autogroup nice as well (/proc/self/autogroup; raising it needs
# no privilege), then the command's own nice. Without autogroups the plain nice value does the same job.
set -euo pipefail
NICE="${BACKGROUND_NICE:-19}"
if [[ $# -eq 0 ]]; then
    echo "usage: [BACKGROUND_NICE=19] bash scripts/background.sh COMMAND [ARGS...]" >&2
    exit 2
fi
exec setsid --wait bash -c '
    if [[ -w /proc/self/autogroup ]]; then echo "$0" > /proc/self/autogroup 2>/dev/null || true; fi
    exec nice -n "$0" "$@"' "$NICE" "$@"
