#!/usr/bin/env bash
# One-command, idempotent set-up of the SigmaPrompt workspace.
#
#   scripts/setup.sh            create/refresh .venv, install pinned deps, repair CMake paths, colcon build
#   SIGMA_PYTHON=python3.12 scripts/setup.sh   choose the interpreter (3.10-3.13)
#
# Writes only inside the repository (.venv, build/, install/, log/) and pip's cache. Root is not needed.
# On a host with a sourced ROS 2 install (/opt/ros/<distro>), the ROS wheels are NOT installed: the venv
# sees the system packages and the workspace builds against that install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.sigma-deps.sha256"
cd "$ROOT"

step() { printf '\033[1m[setup] %s\033[0m\n' "$*"; }
fail() { printf '[setup] FAILED at step "%s": %s\n' "$CURRENT_STEP" "$*" >&2; exit 1; }
CURRENT_STEP="prerequisites"

# --- prerequisites -----------------------------------------------------------------------------
step "checking prerequisites"
PY="${SIGMA_PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(not ((3,10) <= sys.version_info[:2] <= (3,13)))' 2>/dev/null; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || fail "no Python 3.10-3.13 found (set SIGMA_PYTHON=/path/to/python3.X)"
command -v "$PY" >/dev/null 2>&1 || fail "SIGMA_PYTHON=$PY is not an executable"
"$PY" -c 'import sys; sys.exit(not ((3,10) <= sys.version_info[:2] <= (3,13)))' \
  || fail "$("$PY" --version 2>&1) is unsupported: the ROS 2 Kilted wheels exist for CPython 3.10-3.13"
"$PY" -c 'import venv, ensurepip' 2>/dev/null || fail "$PY lacks the venv/ensurepip modules (install python3-venv)"
"$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || fail "Python headers (Python.h) are missing for $PY (install python3-dev): custom messages compile C extensions"
CC_BIN="${CC:-cc}"
command -v "$CC_BIN" >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || fail "no C compiler (cc/gcc) found: install gcc"
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || fail "no C++ compiler (c++/g++) found: install g++"

SYSTEM_ROS=""
if [ -n "${ROS_DISTRO:-}" ] && [ -d "/opt/ros/${ROS_DISTRO}" ]; then
  SYSTEM_ROS="/opt/ros/${ROS_DISTRO}"
  step "using the system ROS 2 install at $SYSTEM_ROS (no ROS wheels will be installed)"
fi

# --- virtual environment -----------------------------------------------------------------------
CURRENT_STEP="virtual environment"
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV with $("$PY" --version 2>&1)"
  if [ -n "$SYSTEM_ROS" ]; then
    "$PY" -m venv --system-site-packages "$VENV" || fail "python -m venv failed"
  else
    "$PY" -m venv "$VENV" || fail "python -m venv failed"
  fi
fi
VPY="$VENV/bin/python"

# --- dependencies (skipped when the pinned set is unchanged) -----------------------------------
CURRENT_STEP="install dependencies"
REQS=(requirements/python.txt)
[ -z "$SYSTEM_ROS" ] && REQS+=(requirements/ros.txt)
# python.txt includes the cloud's own list (src/sigma_cloud/requirements.txt): a change there reinstalls too.
want="$(cat requirements/constraints.txt "${REQS[@]}" src/sigma_cloud/requirements.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  step "installing pinned dependencies (${REQS[*]})"
  args=()
  for r in "${REQS[@]}"; do args+=(-r "$r"); done
  "$VPY" -m pip install --disable-pip-version-check -q -c requirements/constraints.txt "${args[@]}" \
    || fail "pip install failed (see the output above)"
  CURRENT_STEP="repair CMake paths"
  if [ -z "$SYSTEM_ROS" ]; then
    step "repairing the ROS wheels' exported CMake paths"
    "$VPY" "$ROOT/scripts/fix_wheel_cmake.py" "$VENV" || fail "could not rewrite the wheels' CMake paths"
  fi
  echo "$want" > "$STAMP"
else
  step "dependencies up to date"
fi

# --- test tools from Debian's archive (no root needed, nothing started) ----------------------------
# promtool checks and unit-tests the Prometheus rules in deploy/prometheus. It is taken from Debian's prometheus
# package without installing the package (that would also start a Prometheus server): download, extract promtool.
CURRENT_STEP="promtool"
if [ ! -x "$VENV/bin/promtool" ] && ! command -v promtool >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
    step "fetching promtool from Debian's prometheus package"
    tmp="$(mktemp -d)"
    ( cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; } ) \
      || fail "apt-get download prometheus failed (needed for promtool; or put promtool on PATH)"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x" && install -m 0755 "$tmp/x/usr/bin/promtool" "$VENV/bin/promtool" \
      || fail "could not extract promtool from the prometheus package"
    rm -rf "$tmp"
  else
    printf '[setup] WARNING: no apt-get: put promtool (Prometheus 2.x) on PATH, or the deploy rule tests fail\n' >&2
  fi
fi

# The fleet console's browser tests drive Debian's chromium through Playwright (docs/console.md); Playwright's own
# browser download is never used.
CURRENT_STEP="chromium"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing Debian's chromium (fleet console browser tests)"
    { apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; } \
      || fail "apt-get install chromium failed (the fleet console tests need /usr/bin/chromium)"
  else
    fail "/usr/bin/chromium is missing: install Debian's chromium package as root (apt-get install chromium)"
  fi
fi

# --- build -------------------------------------------------------------------------------------
CURRENT_STEP="colcon build"
step "colcon build"
# shellcheck disable=SC1091
source "$ROOT/scripts/env.sh" --no-install
# src/tf2_msgs stands in for the tf2_msgs wheel that does not exist; a system ROS install brings the real one.
SKIP=()
[ -n "$SYSTEM_ROS" ] && SKIP=(--packages-skip tf2_msgs)
colcon build --base-paths src --metas "$ROOT/colcon.meta" ${SKIP[@]+"${SKIP[@]}"} \
  --event-handlers console_cohesion- summary+ status- \
  --cmake-args "-DPython3_EXECUTABLE=$VPY" -DPython3_FIND_VIRTUALENV=ONLY \
  || fail "colcon build failed (logs in $ROOT/log/latest_build)"
step "done: source scripts/env.sh to use the workspace"
