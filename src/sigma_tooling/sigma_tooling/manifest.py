"""A package's package.xml: its name, build type and declared run and test dependencies."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Manifest:
    """The parts of a package.xml (format 3) the dependency check needs."""

    name: str
    path: Path
    build_type: str
    exec_deps: frozenset[str]
    test_deps: frozenset[str]


def read_manifest(package_dir: Path) -> Manifest:
    """Parse ``<package_dir>/package.xml``; ``<depend>`` counts as a run dependency."""
    path = package_dir / "package.xml"
    root = ET.parse(path).getroot()  # noqa: S314 - our own package manifests

    def texts(*tags: str) -> frozenset[str]:
        return frozenset((el.text or "").strip() for tag in tags for el in root.iter(tag))

    build_type = root.findtext("export/build_type", default="ament_cmake").strip()
    return Manifest(root.findtext("name", default="").strip(), path, build_type,
                    texts("depend", "exec_depend"), texts("test_depend"))


def workspace_packages(src: Path) -> dict[str, Path]:
    """Every package under ``src`` (a folder holding a package.xml), by name."""
    return {read_manifest(p.parent).name: p.parent for p in sorted(src.glob("*/package.xml"))}


def ament_packages(prefixes: Iterable[str]) -> set[str]:
    """Package names registered in the ament index of each install prefix (AMENT_PREFIX_PATH)."""
    names: set[str] = set()
    for prefix in prefixes:
        index = Path(prefix) / "share" / "ament_index" / "resource_index" / "packages"
        if index.is_dir():
            names |= {p.name for p in index.iterdir()}
    return names
