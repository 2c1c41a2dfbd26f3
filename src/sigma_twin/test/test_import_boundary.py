"""The twin core is pure: no rclpy, no ROS messages, and never the simulator (it must not see the ground truth)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "sigma_twin" / "core"
FORBIDDEN = ("rclpy", "sigma_sim", "sensor_msgs", "sigma_interfaces", "std_msgs", "diagnostic_msgs")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_sources_import_nothing_forbidden():
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 8
    for f in files:
        bad = _imports(f) & set(FORBIDDEN)
        assert not bad, f"{f.name} imports {bad}"


def test_importing_the_core_loads_no_ros_and_no_simulator():
    mods = [f"sigma_twin.core.{f.stem}" for f in sorted(CORE.glob("*.py")) if f.stem != "__init__"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in mods)
            + f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\nprint(bad)\n")
    src = Path(__file__).resolve().parents[2]
    env_path = ":".join(str(src / p) for p in ("sigma_twin", "sigma_ros_common"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
