"""Plain data of the safety core: levels, authorities, faults, the combined state and the input samples.

Nothing here imports rclpy; node shells translate ROS messages into these types. Times are seconds on one
monotonic clock chosen by the caller (the node passes its clock; tests pass numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Level(IntEnum):
    """Safety level, ordered by severity (values match ``SafetyStatus.LEVEL_*``)."""

    NOMINAL = 0
    DEGRADED = 1
    PROTECTIVE_STOP = 2
    EMERGENCY_STOP = 3


class Authority(IntEnum):
    """Decision authority, ordered along the degradation chain (values match ``SafetyStatus.AUTHORITY_*``)."""

    PRIMARY_AI = 0
    EDGE_AI = 1
    MECHANICAL_FALLBACK = 2


class Severity(IntEnum):
    """Fault severity (values match ``SafetyFault.SEVERITY_*``)."""

    WARNING = 0
    PROTECTIVE_STOP = 1
    EMERGENCY_STOP = 2


SEVERITY_LEVEL = {
    Severity.WARNING: Level.DEGRADED,
    Severity.PROTECTIVE_STOP: Level.PROTECTIVE_STOP,
    Severity.EMERGENCY_STOP: Level.EMERGENCY_STOP,
}


@dataclass(frozen=True)
class Fault:
    """One violated (or latched) rule condition, with the value and the limit it was compared against."""

    code: int
    rule: str
    source: str
    cause: str
    severity: Severity
    latched: bool = False
    value: float = 0.0
    limit: float = 0.0
    since: float = 0.0

    @property
    def key(self) -> tuple[int, str]:
        """Identity of a fault across evaluations: the same code on the same source is the same fault."""
        return (self.code, self.source)


@dataclass(frozen=True)
class RuleOutput:
    """What one rule concludes: faults now violated, allowed speed/torque fractions, weakest allowed authority."""

    faults: tuple[Fault, ...] = ()
    speed_scale: float = 1.0
    torque_scale: float = 1.0
    authority: Authority = Authority.PRIMARY_AI


NOMINAL_OUTPUT = RuleOutput()


@dataclass(frozen=True)
class SafetyState:
    """The supervisor's decision (mirrors ``sigma_interfaces/SafetyStatus``)."""

    level: Level = Level.PROTECTIVE_STOP
    authority: Authority = Authority.MECHANICAL_FALLBACK
    speed_scale: float = 0.0
    torque_scale: float = 0.0
    brake_engaged: bool = True
    faults: tuple[Fault, ...] = ()
    sequence: int = 0
    stamp: float = 0.0

    @property
    def stopped(self) -> bool:
        """True when no motion command may pass (protective or emergency stop, or brakes on)."""
        return self.level >= Level.PROTECTIVE_STOP or self.brake_engaged

    def same_decision(self, other: SafetyState) -> bool:
        """True when ``other`` makes the same decision (ignoring stamp, sequence and fault values)."""
        return (
            self.level == other.level
            and self.authority == other.authority
            and self.brake_engaged == other.brake_engaged
            and abs(self.speed_scale - other.speed_scale) < 1e-6
            and abs(self.torque_scale - other.torque_scale) < 1e-6
            and {f.key for f in self.faults} == {f.key for f in other.faults}
        )


@dataclass(frozen=True)
class Transition:
    """A change of level, authority or fault set, published as a ``SafetyEvent``."""

    previous: SafetyState
    current: SafetyState
    cause: str
    raised: tuple[Fault, ...]
    cleared: tuple[Fault, ...]


# ----- input samples (receipt time is the age reference; header stamps may come from another clock) -----


@dataclass(frozen=True)
class JointSample:
    """``joint_states``: parallel tuples indexed like ``names``."""

    names: tuple[str, ...]
    position: tuple[float, ...]
    velocity: tuple[float, ...]
    effort: tuple[float, ...]
    received: float
    stamp: float = 0.0  # header stamp [s] (for derivatives); 0 = unknown


@dataclass(frozen=True)
class ImuSample:
    """``imu``: orientation quaternion (x, y, z, w) and linear acceleration [m/s^2] in the IMU frame."""

    orientation: tuple[float, float, float, float]
    linear_acceleration: tuple[float, float, float]
    received: float


@dataclass(frozen=True)
class ActuatorSample:
    """``actuator_health``: winding temperature [degC] and current [A] per joint."""

    names: tuple[str, ...]
    winding_temperature: tuple[float, ...]
    current: tuple[float, ...]
    received: float


@dataclass(frozen=True)
class Human:
    """One detected human in the robot base frame: position [m] and velocity [m/s] (x, y)."""

    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    confidence: float = 1.0


@dataclass(frozen=True)
class HumansSample:
    """``humans``: every detection of one sensor frame (empty = looked and saw nobody)."""

    humans: tuple[Human, ...]
    received: float


@dataclass(frozen=True)
class OdomSample:
    """``odom``: base pose in the map frame and base velocity in the base frame."""

    x: float
    y: float
    yaw: float
    vx: float
    vy: float
    wz: float
    received: float


@dataclass(frozen=True)
class PolicyReport:
    """``policy_health`` from one AI: its confidence in [0, 1]."""

    authority: Authority
    confidence: float
    received: float


@dataclass(frozen=True)
class CommandSample:
    """The gate's last joint targets (``driver/joint_command``), for the tracking-error check."""

    targets: dict[str, float]
    received: float


@dataclass(frozen=True)
class BrakeReport:
    """``brake_state`` from the driver: whether it actually applies the brakes."""

    applied: bool
    received: float


@dataclass
class Snapshot:
    """Latest valid sample of every input, kept by the policy between evaluations."""

    joints: JointSample | None = None
    previous_joints: JointSample | None = None
    imu: ImuSample | None = None
    actuators: ActuatorSample | None = None
    humans: HumansSample | None = None
    odom: OdomSample | None = None
    battery_received: float | None = None
    command: CommandSample | None = None
    estop_pressed: bool = False
    input_faults: dict[str, Fault] = field(default_factory=dict)
    brake_report: BrakeReport | None = None
    foreign_publishers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # topic -> other publishers
    foreign_commands: dict[str, tuple[str, float]] = field(default_factory=dict)  # topic -> (what, when seen)
    stop_since: float | None = None  # the decision has commanded standstill since (None = not stopped)
    brake_since: float | None = None  # the decision has commanded the brakes since (None = released)
