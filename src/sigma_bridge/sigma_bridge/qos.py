"""QoS profiles of sigma_bridge, as docs/contracts.md specifies them."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

SENSOR = qos_profile_sensor_data
LATCHED = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def reliable(depth: int) -> QoSProfile:
    """RELIABLE + VOLATILE + KEEP_LAST(depth)."""
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


RELIABLE_10 = reliable(10)
# Transient-local, so a bridge that starts (or restarts) after the supervisor still gets its recent events;
# the node de-duplicates against the store (EventStore.last_safety_ts).
SAFETY_EVENTS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)
DECISIONS = reliable(50)
