"""A thread that takes messages of a node's busy subscriptions from one fixed wait set and calls their callbacks.

Why: rclpy's SingleThreadedExecutor rebuilds its wait set in Python from every entity of every node (subscriptions,
timers, the lifecycle and parameter services, guard conditions) and wraps each callback in a task, once per message:
about 1 ms per message on the 2-core machines here, so a bridge taking ~300 sensor messages/s spent half its CPU in
the executor (profile in docs/bridge.md). ``TopicReader`` waits on only the subscriptions handed to it, with an rcl
wait set it refills from a fixed list (rclpy's own ``wait_for_message`` uses the same calls), takes every message
queued on a ready subscription and calls the callback directly: ``bench/reader_overhead.py`` measures both.

The subscriptions are the node's own (its name, namespace, remappings and graph entry), in a callback group no
executor may run (``ReaderGroup``), so the node's executor never waits on them. Callbacks run on the reader's thread
under ``lock``: give the node's other callbacks that touch the same state the same lock (the bridge does), and they
never overlap. Message-only callbacks (``callback(msg)``); ``raw=True`` hands over the serialized bytes. A callback
that raises is logged (throttled) and the reader goes on: one bad sample must not stop the others.
Works beside the SingleThreadedExecutor and MultiThreadedExecutor (they honour callback groups); rclpy's
EventsExecutor is not supported.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from rclpy.callback_groups import CallbackGroup
from rclpy.exceptions import InvalidHandle
from rclpy.guard_condition import GuardCondition
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

TAKE_MAX = 64  # messages taken from one subscription per wake-up, so a flooded one cannot starve the others


class ReaderGroup(CallbackGroup):
    """A callback group no executor runs: its entities belong to a ``TopicReader``."""

    def can_execute(self, entity: Any) -> bool:
        return False

    def beginning_execution(self, entity: Any) -> bool:
        return False

    def ending_execution(self, entity: Any) -> None:
        return None


class TopicReader:
    """Takes the messages of the subscriptions made through ``subscribe`` on a thread of its own (see the module)."""

    def __init__(self, node: Node, *, lock: threading.Lock | threading.RLock | None = None,
                 name: str = "topic-reader") -> None:
        self.node = node
        self.lock = lock if lock is not None else threading.Lock()
        self.name = name
        self.group = ReaderGroup()
        self.subscriptions: list[Subscription] = []
        self.taken = 0  # messages handed to callbacks
        self.errors = 0  # callbacks that raised
        self._wake = GuardCondition(None, None, context=node.context)
        self._stopping = False
        self._thread: threading.Thread | None = None
        node.context.on_shutdown(self._wake_up)

    def subscribe(self, msg_type: type, topic: str, callback: Callable[[Any], None], qos: QoSProfile | int, *,
                  raw: bool = False) -> Subscription:
        """A subscription of the node that this reader takes (before ``start``)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: subscribe before start()")
        sub = self.node.create_subscription(msg_type, topic, callback, qos, callback_group=self.group, raw=raw)
        self.subscriptions.append(sub)
        return sub

    def start(self) -> None:
        """Start taking messages (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop and join the thread (call before destroying the subscriptions or the node); idempotent."""
        self._stopping = True
        self._wake_up()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._wake.destroy()

    def _wake_up(self) -> None:
        with contextlib.suppress(InvalidHandle):  # already stopped and destroyed
            self._wake.trigger()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        subs = list(self.subscriptions)
        try:
            wait_set = _rclpy.WaitSet(len(subs), 1, 0, 0, 0, 0, self.node.context.handle)
            while not self._stopping and self.node.context.ok():
                wait_set.clear_entities()
                index = [wait_set.add_subscription(s.handle) for s in subs]
                wait_set.add_guard_condition(self._wake.handle)
                wait_set.wait(-1)
                if self._stopping:
                    break
                for sub, i in zip(subs, index, strict=True):
                    if wait_set.is_ready("subscription", i):
                        self._take(sub)
        except Exception as exc:  # noqa: BLE001 - the context went down under the wait, or a handle was destroyed
            if not self._stopping and self.node.context.ok():
                self.node.get_logger().error(f"{self.name} stopped: {exc!r}")

    def _take(self, sub: Subscription) -> None:
        for _ in range(TAKE_MAX):
            taken = sub.handle.take_message(sub.msg_type, sub.raw)
            if taken is None:
                return
            with self.lock:
                try:
                    sub.callback(taken[0])
                    self.taken += 1
                except Exception as exc:  # noqa: BLE001 - one bad sample must not stop the reader
                    self.errors += 1
                    self.node.get_logger().error(f"{sub.topic_name}: callback failed: {exc!r}",
                                                 throttle_duration_sec=5.0)
