"""Static import closure over the workspace's own modules, to prove what a module can never pull in.

Importing ``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``; ``from a.b import c`` also runs ``a.b.c``
when that is a module. The closure follows every import of our own modules (wherever it stands in the file) and
records the external ones, so a chain like ``sigma_safety.core.policy -> sigma_ros_common.qos -> rclpy`` is found.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from sigma_tooling.imports import imports_of


def module_index(src: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of every package under ``src`` (``src/<pkg>/<pkg>/...``)."""
    index: dict[str, Path] = {}
    for init in sorted(src.glob("*/*/__init__.py")):
        pkg_root = init.parent
        if pkg_root.parent.name in ("build", "install", "log"):
            continue
        for f in pkg_root.rglob("*.py"):
            rel = f.relative_to(pkg_root.parent).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            index[".".join(parts)] = f
    return index


def _executed(module: str, index: dict[str, Path]) -> list[str]:
    """The modules of ours that importing ``module`` runs: every package on the way, then the module."""
    parts = module.split(".")
    return [m for m in (".".join(parts[: i + 1]) for i in range(len(parts))) if m in index]


def closure(starts: list[str], index: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """Every module reached from ``starts``: name -> (the module that imported it, file:line), external ones too."""
    reached: dict[str, tuple[str, str]] = {}
    queue: deque[str] = deque()
    for s in starts:
        for m in _executed(s, index):
            if m not in reached:
                reached[m] = ("", "")
                queue.append(m)
    while queue:
        current = queue.popleft()
        for site in imports_of(index[current]):
            targets = [site.module] + [f"{site.module}.{n}" for n in site.names if f"{site.module}.{n}" in index]
            for target in targets:
                ours = _executed(target, index)
                found = ours if ours else [target]
                for m in found:
                    if m not in reached:
                        reached[m] = (current, f"{site.file}:{site.line}")
                        if m in index:
                            queue.append(m)
    return reached


def violations(starts: list[str], index: dict[str, Path], banned: tuple[str, ...]) -> list[str]:
    """Import chains from ``starts`` to any module equal to or under a ``banned`` name, one line each."""
    reached = closure(starts, index)
    out = []
    for module in sorted(reached):
        if any(module == b or module.startswith(b + ".") for b in banned):
            chain, cur = [module], module
            while reached[cur][0]:
                cur = reached[cur][0]
                chain.append(cur)
            out.append(" -> ".join(reversed(chain)) + f"  ({reached[module][1]})")
    return out
