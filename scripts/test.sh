#!/usr/bin/env bash
# The whole test suite: set-up (when needed), ruff, mypy, colcon test over every package (including sigma_tooling's
# dependency and import-boundary checks), colcon test-result.
# Exits non-zero on any lint finding, test failure or error.
#   scripts/test.sh                       everything
#   scripts/test.sh --packages-select X   one package (any colcon test selection arguments)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
# shellcheck disable=SC1091
source scripts/env.sh

echo "[test] ruff check"
ruff check .

echo "[test] mypy (pure cores, sigma_protocol)"
bash scripts/typecheck.sh

echo "[test] colcon test"
rm -rf build/*/test_results build/*/pytest.xml
# Packages run one after another: several of them start real processes and servers, and this is a 2-core machine.
colcon test --base-paths src --executor sequential --event-handlers console_direct+ \
  --pytest-args -p no:cacheprovider --timeout=900 "$@"

echo "[test] colcon test-result"
set +e
colcon test-result --verbose --test-result-base build | tee build/test-result.txt
status=${PIPESTATUS[0]}
set -e
# One plain closing line with the totals over every package.
summary="$(grep -E '^Summary: ' build/test-result.txt | tail -n 1)"
read -r total errors failures skipped < <(echo "$summary" | sed -E 's/[^0-9]+/ /g')
echo "sigma: $((total - errors - failures - skipped)) passed, $((errors + failures)) failed, ${skipped} skipped"
exit "$status"
