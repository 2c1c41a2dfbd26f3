"""Robust read-back of stored JSON (payloads, statistics): whatever a row holds, a read answers.

Ingest validates payloads against each channel's schema (sigma_protocol.channels), but rows written before that
validation, by a different server version or by hand may still hold JSON that Python or orjson cannot turn back into
a response: integers with thousands of digits (Python's int-digits limit), nesting deeper than the serializer's
limit, NaN literals. `safe_loads` is the JSONB loader of every API connection: it never raises and returns a value
that serializes, replacing what cannot be represented by a short marker that says what was there.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads

# Deeper than any channel payload needs (they are flat objects of numbers, lists and strings); far below orjson's
# serialization limit (254) and Python's recursion limit.
MAX_READ_DEPTH = 16
MAX_INT_DIGITS = 40  # beyond int64/uint64 by far; a longer integer is shown as a marker, not parsed
UNREADABLE = "unreadable"


def _marker(reason: str) -> dict[str, str]:
    return {UNREADABLE: reason}


def _parse_int(text: str) -> int | str:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return f"<integer with {len(text.lstrip('-'))} digits>"
    return int(text)


def _parse_float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else f"<number {text[:20]}{'...' if len(text) > 20 else ''}>"


def clip_depth(value: Any, max_depth: int = MAX_READ_DEPTH) -> Any:
    """`value` with every container nested deeper than `max_depth` replaced by a marker string (iterative)."""
    if not isinstance(value, (dict, list)):
        return value
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, int]] = [(root, 0, 0)]  # (parent, key, depth of the child)
    while stack:
        parent, key, depth = stack.pop()
        child = parent[key]
        if not isinstance(child, (dict, list)):
            continue
        if depth >= max_depth:
            parent[key] = f"<nested deeper than {max_depth} levels>"
            continue
        keys = child.keys() if isinstance(child, dict) else range(len(child))
        stack.extend((child, k, depth + 1) for k in keys)
    return root[0]


def _needs_clip(value: Any, max_depth: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth >= max_depth:
            return True
        stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def safe_loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse stored JSON; never raises. Unrepresentable parts become markers (see module docstring)."""
    raw = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                               parse_constant=lambda name: f"<{name}>")
        except RecursionError:
            return _marker(f"stored JSON is nested deeper than {MAX_READ_DEPTH} levels")
        except ValueError as exc:
            return _marker(f"stored JSON could not be read: {str(exc)[:120]}")
    if _needs_clip(value, MAX_READ_DEPTH):
        value = clip_depth(value)
    return value


def as_object(value: Any) -> dict[str, Any]:
    """A payload as the API's object-typed fields expect it: a stored non-object is wrapped as {"value": ...}."""
    return value if isinstance(value, dict) else {"value": value}


def as_text_map(value: Any) -> dict[str, str]:
    """Stored decision parameters as the API's string map: non-string values are shown as JSON text, not a 500."""
    if not isinstance(value, dict):
        return {"value": value if isinstance(value, str) else orjson.dumps(value, default=str).decode()}
    return {str(k): v if isinstance(v, str) else orjson.dumps(v, default=str).decode() for k, v in value.items()}


def install(conn: psycopg.Connection | psycopg.AsyncConnection) -> None:
    """Use `safe_loads` for json/jsonb columns read on `conn`."""
    set_json_loads(safe_loads, conn)
