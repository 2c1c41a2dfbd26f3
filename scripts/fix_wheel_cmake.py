"""Rewrite the build-machine paths baked into the ROS 2 PyPI wheels' exported CMake files.

The wheels were built under ``/opt/python/cp3XX-cp3XX``; their ``*Export.cmake`` files name that
interpreter's include directory and site-packages. This rewrites both prefixes, inside the venv
only, to this interpreter's include directory and the venv's site-packages. Idempotent.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

_BUILD_PREFIX = re.compile(r"/opt/python/cp3\d+-cp3\d+/(include/python3\.\d+|lib/python3\.\d+/site-packages)")


def rewrite(venv: Path) -> int:
    """Rewrite every CMake file under ``venv/share``; return the number of files changed."""
    include_dir = sysconfig.get_paths()["include"]
    site_packages = sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]

    def repl(match: re.Match[str]) -> str:
        return include_dir if match.group(1).startswith("include") else site_packages

    changed = 0
    for path in (venv / "share").rglob("*.cmake"):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        new = _BUILD_PREFIX.sub(repl, text)
        if new != text:
            path.write_text(new, encoding="utf-8", errors="surrogateescape")
            changed += 1
    return changed


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: fix_wheel_cmake.py VENV", file=sys.stderr)
        return 2
    venv = Path(sys.argv[1]).resolve()
    if not (venv / "share").is_dir():
        print(f"fix_wheel_cmake: {venv}/share does not exist (are the ROS wheels installed?)", file=sys.stderr)
        return 1
    print(f"fix_wheel_cmake: rewrote {rewrite(venv)} CMake file(s) under {venv}/share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
