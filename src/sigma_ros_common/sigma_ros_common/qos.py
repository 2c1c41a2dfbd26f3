"""The QoS profiles of docs/contracts.md, defined once for every package.

"latched" = RELIABLE + TRANSIENT_LOCAL + depth 1; "sensor" = ``qos_profile_sensor_data``; "reliable N" = RELIABLE +
VOLATILE + depth N; safety events are RELIABLE + TRANSIENT_LOCAL + depth 100 so a late joiner (the bridge, a
recorder) still gets the recent transitions.
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

SENSOR = qos_profile_sensor_data
LATCHED = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def reliable(depth: int) -> QoSProfile:
    """RELIABLE + VOLATILE + KEEP_LAST(depth)."""
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


RELIABLE_10 = reliable(10)
# Commands into the gate and out to the driver, diagnostics, policy health.
COMMANDS = RELIABLE_10
# /clock of an unpaced simulator.
CLOCK = RELIABLE_10
# safety/events: transient-local, so late joiners get the recent transitions; consumers de-duplicate by stamp.
# Depth 1000: a burst (watchdogs flapping on a starved host) must not overwrite events a slow reader (the bridge)
# has not taken yet; at depth 100 the main command lost ~1 % of a robot's events that way under load.
SAFETY_EVENTS = QoSProfile(depth=1000, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
# cognition/decisions relayed by the bridge.
DECISIONS = reliable(50)
