"""What a Python file imports (absolute imports, wherever they stand in the file) and which strings it names."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImportSite:
    """One absolute import: the dotted module (``a.b`` of ``from a.b import c``), the names taken, file and line."""

    module: str
    names: tuple[str, ...]
    file: Path
    line: int

    @property
    def top(self) -> str:
        """The top-level module (the distribution's import name)."""
        return self.module.split(".")[0]


def imports_of(file: Path) -> list[ImportSite]:
    """Every absolute import of ``file``, including ``importlib.import_module("m")`` and ``pytest.importorskip("m")``
    (relative imports are the package's own and skipped)."""
    tree = ast.parse(file.read_text(), filename=str(file))
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sites.extend(ImportSite(alias.name, (), file, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            sites.append(ImportSite(node.module, tuple(a.name for a in node.names), file, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("import_module", "importorskip")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            sites.append(ImportSite(node.args[0].value, (), file, node.lineno))
    return sites


def string_constants(file: Path) -> set[str]:
    """Every string literal of a Python file (package names passed to launchers, share lookups, type names)."""
    tree = ast.parse(file.read_text(), filename=str(file))
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
