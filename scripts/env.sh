# Source this file to use the workspace:   source scripts/env.sh
# It activates .venv, exports the ROS 2 variables a pip-only host needs, and sources install/setup.bash,
# after which every node of the workspace runs by hand, e.g.
#   "$(sigma-exec sigma_sim sim_node)" --ros-args -p robots:="[r1]"
# (no ros2cli on pip-only hosts; on a full ROS 2 install `ros2 run` works as usual).
# shellcheck shell=bash

SIGMA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SIGMA_ROOT

if [ ! -x "$SIGMA_ROOT/.venv/bin/python" ]; then
  echo "scripts/env.sh: $SIGMA_ROOT/.venv is missing: run scripts/setup.sh first" >&2
  return 1 2>/dev/null || exit 1
fi

# shellcheck disable=SC1091
source "$SIGMA_ROOT/.venv/bin/activate"

if [ -z "${ROS_DISTRO:-}" ] || [ ! -d "/opt/ros/${ROS_DISTRO:-none}" ]; then
  # pip-only host: the ROS 2 wheels live in the venv prefix.
  case ":${AMENT_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}";; esac
  case ":${CMAKE_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
    export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}";; esac
  export ROS_DISTRO="${ROS_DISTRO:-kilted}"
  export ROS_VERSION=2
  export ROS_PYTHON_VERSION=3
fi
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Fast DDS without type propagation, so Cyclone DDS participants (swarm mesh, mixed fleets) can match.
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$SIGMA_ROOT/config/fastdds.xml}"
export PYTHONDONTWRITEBYTECODE=1

if [ "${1:-}" != "--no-install" ] && [ -f "$SIGMA_ROOT/install/setup.bash" ]; then
  # colcon's setup scripts are not nounset-clean.
  _sigma_u=$-; set +u
  # shellcheck disable=SC1091
  source "$SIGMA_ROOT/install/setup.bash"
  case $_sigma_u in *u*) set -u;; esac; unset _sigma_u
fi

# The `sigma` (launch runner) and `sigma-cloud` commands on PATH.
for _sigma_bin in "$SIGMA_ROOT/install/sigma_launch/lib/sigma_launch" "$SIGMA_ROOT/install/sigma_cloud/lib/sigma_cloud"; do
  case ":$PATH:" in *":$_sigma_bin:"*) ;; *) export PATH="$_sigma_bin:$PATH";; esac
done
unset _sigma_bin

sigma-exec() {
  # Print the path of a workspace executable: sigma-exec PACKAGE EXECUTABLE
  local prefix
  prefix="$(python -c 'import sys; from ament_index_python.packages import get_package_prefix; print(get_package_prefix(sys.argv[1]))' "$1")" || return 1
  echo "$prefix/lib/$1/$2"
}
