"""A serialized message read with ``sigma_ros_common.cdr``, or by rclpy's deserializer where that reader stops.

Kept apart from ``cdr`` so that module stays pure (the twin's core imports it; an import-boundary test forbids rclpy
there)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rclpy.serialization import deserialize_message

from sigma_ros_common.cdr import UnsupportedEncodingError

T = TypeVar("T")


def read_or_deserialize(raw: bytes, read: Callable[[bytes], T], msg_type: type, fields: Callable[[Any], T]) -> T:
    """``read(raw)``; for an encapsulation ``cdr`` does not read (e.g. XCDR2 from another DDS vendor), ``fields`` of
    the message rclpy's deserializer makes of it. ``cdr.CdrError`` when the bytes are not the message."""
    try:
        return read(raw)
    except UnsupportedEncodingError:
        return fields(deserialize_message(raw, msg_type))
