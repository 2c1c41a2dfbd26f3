"""Generic helpers over ROS 2 message classes: import by name, fill with sample values, compare, render."""

from __future__ import annotations

import importlib
import random
from typing import Any

_INT_RANGES = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "byte": (0, 255),
    "char": (0, 255),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def import_type(name: str) -> type:
    """``'pkg/msg/Type'`` (or ``pkg/srv/Type``) → the generated Python class."""
    try:
        pkg, kind, typ = name.split("/")
    except ValueError as exc:
        raise ValueError(f"type name {name!r} is not of the form pkg/msg/Type") from exc
    return getattr(importlib.import_module(f"{pkg}.{kind}"), typ)


def _split(field_type: str) -> tuple[str, bool]:
    if field_type.startswith("sequence<"):
        return field_type[len("sequence<") :].split(",")[0].rstrip(">"), True
    if field_type.endswith("]") and "[" in field_type:
        return field_type[: field_type.index("[")], True
    return field_type, False


def _sample_scalar(base: str, rng: random.Random) -> Any:
    if base in _INT_RANGES:
        lo, hi = _INT_RANGES[base]
        return rng.randint(lo, hi)
    if base in ("float", "double", "float32", "float64"):
        return float(rng.randint(-1000, 1000)) / 8.0  # exactly representable in float32
    if base == "boolean":
        return rng.random() < 0.5
    if base.startswith("string") or base.startswith("wstring"):
        return f"s{rng.randint(0, 10**6)}"
    return sample_message(import_type(base.replace("/", "/msg/", 1) if base.count("/") == 1 else base), rng)


def sample_message(cls: type, rng: random.Random | None = None) -> Any:
    """An instance of ``cls`` with every field (recursively, sequences of length 2) set to a random value."""
    rng = rng or random.Random(0)
    msg = cls()
    for field, ftype in cls.get_fields_and_field_types().items():
        base, is_seq = _split(ftype)
        value = [_sample_scalar(base, rng) for _ in range(2)] if is_seq else _sample_scalar(base, rng)
        if is_seq and base in ("uint8", "byte", "char") and isinstance(getattr(msg, field), (bytes, bytearray)):
            value = bytes(value)
        setattr(msg, field, value)
    return msg


def to_dict(msg: Any) -> Any:
    """Plain-data rendering of a message (for comparison and logs)."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {f: to_dict(getattr(msg, f)) for f in msg.get_fields_and_field_types()}
    if isinstance(msg, (list, tuple)) or type(msg).__name__ in ("ndarray", "array"):
        return [to_dict(v) for v in msg]
    if isinstance(msg, (bytes, bytearray)):
        return list(msg)
    return msg
