"""ROS 2 message definitions as MCAP ``ros2msg`` schemas: the .msg text with its dependencies appended.

``rosidl_runtime_py`` is not in the ROS 2 wheels, so the definitions are read from each package's installed
``share/<pkg>/msg/<Type>.msg`` files, found through the ament index.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ament_index_python.packages import get_package_share_directory

PRIMITIVES = frozenset(
    ("bool", "byte", "char", "float32", "float64", "string", "wstring", "int8", "uint8", "int16", "uint16")
) | {"int32", "uint32", "int64", "uint64"}
_SEPARATOR = "=" * 80


def _msg_path(pkg: str, name: str) -> Path:
    return Path(get_package_share_directory(pkg)) / "msg" / f"{name}.msg"


def _dependencies(pkg: str, text: str) -> list[tuple[str, str]]:
    deps: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        ftype = line.split()[0]
        base = ftype.split("[", 1)[0].split("<=", 1)[0]
        if base in PRIMITIVES:  # constants are always primitives too
            continue
        dep_pkg, _, dep_name = base.rpartition("/")
        deps.append((dep_pkg.split("/")[0] or pkg, dep_name))
    return deps


@cache
def message_definition(type_name: str) -> str:
    """``'pkg/msg/Type'`` -> the full ros2msg schema text (the format rosbag2 and Foxglove read)."""
    try:
        pkg, kind, name = type_name.split("/")
    except ValueError as exc:
        raise ValueError(f"type name {type_name!r} is not of the form pkg/msg/Type") from exc
    if kind != "msg":
        raise ValueError(f"{type_name!r} is not a message type")
    main = _msg_path(pkg, name).read_text()
    parts = [main.rstrip("\n")]
    seen: set[tuple[str, str]] = set()
    todo = _dependencies(pkg, main)
    while todo:
        dep = todo.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = _msg_path(*dep).read_text()
        parts.append(f"{_SEPARATOR}\nMSG: {dep[0]}/{dep[1]}\n{text.rstrip()}")
        todo.extend(_dependencies(dep[0], text))
    return "\n".join(parts) + "\n"
