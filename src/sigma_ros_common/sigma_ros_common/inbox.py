"""Polled subscriptions: an inbox node that no executor spins, drained by the owner's timer.

For a stream a node reads only once per period — the newest sample (state_publisher) or all of them in one batch
(twin_node's imu/odom) — a callback per message only costs: rclpy's EventsExecutor still wakes and calls into Python
for every sample. The inbox node's subscriptions are never added to an executor; the DDS reader keeps what arrives
(up to the QoS depth, KEEP_LAST) until the owner takes it. The inbox node lives in the owner's context and namespace
(so the owner's remappings and domain apply), without parameter services or rosout.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription


def _unused(_msg: object) -> None:
    """Callback of a polled subscription (never called: no executor spins the inbox node)."""


class Inbox:
    """An unspun node beside ``owner`` holding polled subscriptions."""

    def __init__(self, owner: Node, name: str | None = None) -> None:
        self.node = Node(name or f"{owner.get_name()}_inbox", namespace=owner.get_namespace(), context=owner.context,
                         start_parameter_services=False, enable_rosout=False)

    def subscribe(self, msg_type: type, topic: str, profile: QoSProfile, *, raw: bool = False) -> Subscription:
        """A subscription to poll with ``take_all`` / ``take_newest`` (``raw``: serialized bytes)."""
        return self.node.create_subscription(msg_type, topic, _unused, profile, raw=raw)

    def destroy(self) -> None:
        self.node.destroy_node()


def take_all(sub: Subscription) -> list[Any]:
    """Every message waiting on ``sub``, oldest first (serialized bytes for a raw one)."""
    out = []
    with sub.handle:
        while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
            out.append(taken[0])
    return out


def take_newest(sub: Subscription) -> Any:
    """The newest message waiting on ``sub`` (older ones are dropped), or None."""
    waiting = take_all(sub)
    return waiting[-1] if waiting else None
