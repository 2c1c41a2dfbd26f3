"""Make the source tree importable when the tests run from a checkout without a build."""

import sys
from pathlib import Path

_SRC = Path(__file__).resolve().parents[2]
for pkg in ("sigma_twin", "sigma_sim", "sigma_ros_common"):
    path = str(_SRC / pkg)
    if path not in sys.path:
        sys.path.append(path)

pytest_plugins = ["sigma_testing.fixtures"]  # a ROS domain per test, real processes, teardown
