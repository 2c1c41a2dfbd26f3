"""Ctrl-C landing inside the state_publisher's tick is a clean shutdown, not a FATAL "Exception in 'timers' callback"
(rclpy's EventsExecutor logs whatever a callback raises; CI once saw the KeyboardInterrupt of a Ctrl-C there)."""

from __future__ import annotations

import pytest
import rclpy

from sigma_state_publisher import node as node_module


@pytest.fixture
def publisher(ros_domain):
    rclpy.init(domain_id=ros_domain.domain_id)      # the node is built in the default context, as its main does
    node = None
    try:
        node = node_module.StatePublisher()
        yield node, node.context
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


def _tick(node):
    (timer,) = node.timers
    return timer.callback


def test_a_keyboard_interrupt_inside_the_tick_is_swallowed(publisher, monkeypatch):
    node, _ = publisher

    def interrupted(_sub):
        raise KeyboardInterrupt

    monkeypatch.setattr(node_module, "take_newest", interrupted)
    assert _tick(node)() is None


def test_a_failing_take_after_shutdown_is_quiet_but_a_bug_while_running_is_not(publisher, monkeypatch):
    node, context = publisher

    def broken(_sub):
        raise RuntimeError("take failed")

    monkeypatch.setattr(node_module, "take_newest", broken)
    tick = _tick(node)
    with pytest.raises(RuntimeError, match="take failed"):    # the context is valid: a real error propagates
        tick()
    context.shutdown()                                        # (it destroys the node's timers too)
    assert tick() is None                                     # the context went down: a clean shutdown
