"""An in-test ROS 2 node, confined to the test's domain, to publish, collect and wait on topics.

It is what ``launch_testing``'s ``assertWaitFor`` gives a launch test: readiness is waiting for a topic
to match or a message to arrive, never a fixed sleep.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile

from sigma_testing.domain import RosDomain, isolation_env

M = TypeVar("M")


class Collector(Generic[M]):
    """Messages received on one subscription, with blocking waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.messages: list[M] = []
        self.stamps: list[float] = []

    def _on_msg(self, msg: M) -> None:
        with self._cond:
            self.messages.append(msg)
            self.stamps.append(time.monotonic())
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[M]], bool] = bool, timeout: float = 10.0) -> list[M]:
        """Block until ``predicate(messages)`` holds; return a copy of the messages, or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"condition not met within {timeout} s; {len(self.messages)} message(s) received"
                    )
                self._cond.wait(left)
            return list(self.messages)

    def wait_for_count(self, n: int, timeout: float = 10.0) -> list[M]:
        return self.wait_for(lambda msgs: len(msgs) >= n, timeout)

    def latest(self) -> M | None:
        with self._cond:
            return self.messages[-1] if self.messages else None

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()
            self.stamps.clear()


class RosProbe:
    """A node in its own rclpy context and domain, spun on a background thread."""

    def __init__(self, domain: RosDomain, name: str = "test_probe") -> None:
        # rmw reads discovery settings from the environment at init; apply the isolation before it.
        for key, value in isolation_env(domain.domain_id).items():
            os.environ[key] = value
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain.domain_id)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._stopping = threading.Event()
        # entities are destroyed only between two spins: rclpy's executor reads ``handle.pointer`` of every entity
        # of the node after its wait, which raises InvalidHandle (and ended the spin thread: no message arrived any
        # more) for one that another thread destroyed in between
        self._spin_lock = threading.Lock()
        self._waiting = threading.Event()  # a destroy waits for the lock: the spin thread lets it in
        self._thread = threading.Thread(target=self._spin, name=f"{name}-spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok() and not self._stopping.is_set():
            if self._waiting.is_set():
                time.sleep(0.001)
            try:
                with self._spin_lock:
                    self._executor.spin_once(timeout_sec=0.05)
            except Exception:
                if not self.context.ok():
                    return
                raise

    def subscribe(self, msg_type: type[M], topic: str, qos: QoSProfile | int = 10) -> Collector[M]:
        collector: Collector[M] = Collector()
        self.node.create_subscription(msg_type, topic, collector._on_msg, qos)
        return collector

    def destroy(self, entity: Any) -> None:
        """Destroy a subscription, publisher or client of the probe's node (between two spins; see __init__)."""
        self._waiting.set()
        with self._spin_lock:
            self._waiting.clear()
            for destroy in (self.node.destroy_subscription, self.node.destroy_publisher, self.node.destroy_client):
                if destroy(entity):
                    return
        raise ValueError(f"{entity!r} is not an entity of {self.node.get_name()}")

    def publisher(self, msg_type: type, topic: str, qos: QoSProfile | int = 10) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def client(self, srv_type: type, name: str) -> Any:
        return self.node.create_client(srv_type, name)

    def call(self, srv_type: type, name: str, request: Any, timeout: float = 10.0) -> Any:
        """Call a service synchronously (waits for the server first)."""
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f"service {name} not available within {timeout} s")
            future = client.call_async(request)
            deadline = time.monotonic() + timeout
            while not future.done():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"service {name} did not answer within {timeout} s")
                time.sleep(0.005)
            return future.result()
        finally:
            self.destroy(client)

    def wait_for_subscribers(self, publisher: Any, count: int = 1, timeout: float = 10.0) -> None:
        """Block until ``publisher`` has matched ``count`` subscriptions (discovery done)."""
        _wait(
            lambda: publisher.get_subscription_count() >= count,
            timeout,
            f"{publisher.topic_name}: fewer than {count} subscriber(s)",
        )

    def wait_for_publishers(self, topic: str, count: int = 1, timeout: float = 10.0) -> None:
        """Block until ``topic`` has ``count`` publishers in the graph."""
        _wait(lambda: self.node.count_publishers(topic) >= count, timeout, f"{topic}: fewer than {count} publisher(s)")

    def close(self) -> None:
        """Stop the spinning thread, then destroy the node (not while the thread still waits on its entities)."""
        self._stopping.set()
        self._thread.join(timeout=5.0)
        if self.context.ok():
            self._executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
            rclpy.shutdown(context=self.context)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(0.01)
