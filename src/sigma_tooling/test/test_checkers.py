"""The checkers themselves catch what they exist for (so a green dependency test means something)."""

from __future__ import annotations

from pathlib import Path

from sigma_tooling.boundaries import module_index, violations
from sigma_tooling.deps import check_package

MANIFEST = """<?xml version="1.0"?>
<package format="3"><name>demo_pkg</name><version>0.0.0</version><description>d</description>
<maintainer email="a@b.c">m</maintainer><license>Apache-2.0</license>
{deps}
<export><build_type>ament_python</build_type></export></package>
"""


def _package(tmp: Path, deps: str, code: str, test: str = "") -> Path:
    root = tmp / "demo_pkg"
    (root / "demo_pkg" / "core").mkdir(parents=True)
    (root / "test").mkdir()
    (root / "package.xml").write_text(MANIFEST.format(deps=deps))
    (root / "setup.py").write_text("import setuptools\n")
    (root / "demo_pkg" / "__init__.py").write_text("")
    (root / "demo_pkg" / "core" / "__init__.py").write_text("")
    (root / "demo_pkg" / "node.py").write_text(code)
    (root / "test" / "test_x.py").write_text(test)
    return root


def test_undeclared_import_unused_declaration_and_unknown_library_are_reported(tmp_path):
    root = _package(tmp_path, "<exec_depend>python3-numpy</exec_depend><test_depend>python3-pytest</test_depend>",
                    "import os\nimport yaml\nfrom std_msgs.msg import Bool\nimport leftpadlib\n", "import pytest\n")
    problems = "\n".join(check_package(root, {"std_msgs"}))
    assert "imports yaml but package.xml does not declare <exec_depend>python3-yaml</exec_depend>" in problems
    assert "imports std_msgs.msg but package.xml does not declare <exec_depend>std_msgs</exec_depend>" in problems
    assert "declares <exec_depend>python3-numpy</exec_depend> but nothing uses it" in problems
    assert "imports leftpadlib, which no ROS package or known distribution provides" in problems
    assert "os" not in problems.replace("does not", "")  # the standard library needs no declaration


def test_true_declarations_pass_and_a_package_named_in_a_string_counts_as_used(tmp_path):
    root = _package(tmp_path, "<exec_depend>python3-yaml</exec_depend><exec_depend>sigma_sim</exec_depend>"
                    "<test_depend>python3-pytest</test_depend><test_depend>sigma_safety</test_depend>",
                    "import yaml\nEXE = ('sigma_sim', 'sim_node')\n",
                    "import pytest\n\ndef test_a():\n    assert 'sigma_safety'\n")
    assert check_package(root, {"sigma_sim", "sigma_safety"}) == []


def test_exec_dependency_used_only_by_tests_is_reported(tmp_path):
    root = _package(tmp_path, "<exec_depend>python3-httpx</exec_depend>", "x = 1\n", "import httpx\n")
    assert any("only the tests use it" in p for p in check_package(root, set()))


def test_transitive_rclpy_through_a_shared_module_is_found(tmp_path):
    root = _package(tmp_path, "", "import rclpy\n")
    (root / "demo_pkg" / "core" / "policy.py").write_text("from demo_pkg import node\n")
    index = module_index(tmp_path)
    chains = violations(["demo_pkg.core.policy"], index, ("rclpy",))
    assert chains and chains[0].startswith("demo_pkg.core.policy -> demo_pkg.node -> rclpy")
    (root / "demo_pkg" / "core" / "policy.py").write_text("import math\n")
    assert violations(["demo_pkg.core.policy"], module_index(tmp_path), ("rclpy",)) == []


def test_system_dependencies_and_test_helper_packages_are_understood(tmp_path):
    root = _package(tmp_path, "<test_depend>python3-pytest</test_depend><test_depend>libsqlite3-dev</test_depend>",
                    "x = 1\n", "import pytest\nfrom rig.harness import build\n")
    (root / "test" / "rig").mkdir()
    (root / "test" / "rig" / "__init__.py").write_text("")
    (root / "test" / "rig" / "harness.py").write_text("def build():\n    return 1\n")
    assert check_package(root, set()) == []
