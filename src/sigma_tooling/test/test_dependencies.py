"""Every package's package.xml names exactly what its code imports or runs; setup.py installs only its own files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sigma_tooling.deps import check_package
from sigma_tooling.manifest import ament_packages, read_manifest, workspace_packages

SRC = Path(__file__).resolve().parents[2]
PACKAGES = workspace_packages(SRC)
ROS = set(PACKAGES) | ament_packages(os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep))
PYTHON_PACKAGES = sorted(n for n, d in PACKAGES.items() if read_manifest(d).build_type == "ament_python")


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_declared_dependencies_are_exactly_the_used_ones(package):
    problems = check_package(PACKAGES[package], ROS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_setup_py_installs_only_the_packages_own_files(package):
    text = (PACKAGES[package] / "setup.py").read_text()
    assert not re.search(r"\.\./|parents\[|Path\(\"\.\.\"\)", text), (
        f"{package}/setup.py reaches outside the package: keep its files in src/{package}/ and install them from there")


def test_the_robot_side_does_not_declare_the_cloud():
    for package in ("sigma_bridge", "sigma_protocol", "sigma_safety", "sigma_sim"):
        declared = read_manifest(PACKAGES[package]).exec_deps
        assert not declared & {"sigma_cloud", "python3-fastapi", "python3-psycopg", "python3-uvicorn"}, package
