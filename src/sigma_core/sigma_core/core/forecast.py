"""Before accepting a long or heavy task: what the digital twin says about the robot's health under it.

Two checks, both with the reason in words:
- the twin's **maintenance window** (``twin/health``): a task that would still run when the window opens is
  refused ("a maintenance window opens in 3 min; the task needs about 6 min");
- the twin's **what-if forecast** (``twin/forecast``): the task's workload — the arm motors' RMS current while
  carrying the tote, estimated as the current measured now plus ``amps_per_kg`` per kg of payload (each arm carries
  half), over the task's estimated duration — is run on the twin's thermal models. A winding-limit risk of
  ``refuse_risk`` or more within the task refuses it; ``derate_risk`` or more accepts it but caps the payload the robot
  accepts afterwards at this task's mass (reported as ``payload_limit`` for the allocator) until the twin's answers
  are calm again.
The node makes the service call (asynchronously) and hands the answer in; here everything is plain values.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from sigma_core.core.tasks import Kind, TaskSpec
from sigma_ros_common.params import param, require

ARM_JOINTS = ("left_shoulder_pitch", "right_shoulder_pitch", "left_elbow", "right_elbow")


@dataclass(frozen=True)
class ForecastParams:
    """When and how the twin is consulted before a task is accepted."""

    consult_payload: float = param(2.0, unit="kg", low=0.0, high=200.0,
                                   description="a delivery at least this heavy is checked with the twin's forecast")
    consult_duration: float = param(120.0, unit="s", low=0.0, high=86400.0,
                                    description="a task estimated at least this long is checked with the twin")
    amps_per_kg: float = param(1.0, unit="A/kg", low=0.0, high=50.0,
                               description="added RMS current per arm motor per kg carried (each arm holds half)")
    travel_speed: float = param(0.4, unit="m/s", low=0.05, high=2.0,
                                description="average speed for the duration estimate (detours, turns, people)")
    detour_factor: float = param(1.4, unit="1", low=1.0, high=5.0,
                                 description="path length over straight-line distance for the duration estimate")
    arm_time: float = param(30.0, unit="s", low=0.0, high=600.0,
                            description="time of the arm motions, grasp and release of a delivery")
    refuse_risk: float = param(0.5, unit="1", low=0.0, high=1.0,
                               description="forecast risk of a winding limit within the task at which it is refused")
    derate_risk: float = param(0.1, unit="1", low=0.0, high=1.0,
                               description="forecast risk at which the task is accepted but heavier ones are not")
    timeout: float = param(2.0, unit="s", low=0.05, high=60.0,
                           description="the twin's forecast is awaited this long; then the task is judged without it")

    def __post_init__(self) -> None:
        require(self.derate_risk <= self.refuse_risk, "derate_risk must not exceed refuse_risk")


@dataclass(frozen=True)
class TaskLoad:
    """The workload a task puts on the robot, as the twin's what-if takes it."""

    duration: float                 # [s] estimated
    joints: tuple[str, ...]
    rms_current: tuple[float, ...]  # [A] per joint
    payload: float                  # [kg]


@dataclass(frozen=True)
class Judgement:
    """The twin's word on a task: refuse (reason) or accept, optionally capping later payloads."""

    refuse: str = ""
    payload_cap: float = math.inf   # [kg] heavier deliveries are refused after this one
    note: str = ""


def estimate(spec: TaskSpec, route: list[tuple[float, float]], measured: dict[str, float],
             params: ForecastParams) -> TaskLoad:
    """Duration and arm currents of ``spec`` driving through the points of ``route`` (pose, pickup, dropoff ...)."""
    dist = sum(math.dist(a, b) for a, b in itertools.pairwise(route)) * params.detour_factor
    duration = dist / params.travel_speed + (params.arm_time if spec.kind == Kind.DELIVER else 0.0)
    mass = spec.payload_mass if spec.kind == Kind.DELIVER else 0.0
    rms = tuple(abs(measured.get(j, 0.0)) + params.amps_per_kg * mass / 2.0 for j in ARM_JOINTS)
    return TaskLoad(duration, ARM_JOINTS, rms, mass)


def worth_asking(spec: TaskSpec, load: TaskLoad, params: ForecastParams) -> bool:
    """Long or heavy tasks are checked with the twin; short light ones are not worth the round trip."""
    return spec.kind in (Kind.GO_TO, Kind.DELIVER) and (
        load.payload >= params.consult_payload or load.duration >= params.consult_duration)


def window_conflict(load: TaskLoad, window_start: float, now: float, params: ForecastParams) -> str:
    """Why the task would run into the twin's maintenance window ("" if it would not or none is planned)."""
    if not math.isfinite(window_start) or window_start <= 0.0:
        return ""
    left = window_start - now
    if left < load.duration:
        when = "is open now" if left <= 0 else f"opens in {left / 60:.1f} min"
        return (f"twin: a maintenance window {when}; the task needs about {load.duration / 60:.1f} min — "
                "service the robot first")
    return ""


def judge(load: TaskLoad, joints: list[str], risk: list[float], q05: list[float], params: ForecastParams) -> Judgement:
    """The twin's what-if answer for ``load`` turned into a verdict with its reason."""
    pairs = [(r, j, t) for j, r, t in zip(joints, risk, q05, strict=False) if math.isfinite(r)]
    if not pairs:
        return Judgement(note="twin forecast gave no usable risk")
    r, j, t = max(pairs)
    k = load.joints.index(j) if j in load.joints else 0
    what = (f"twin forecast: {j} reaches its winding limit with risk {r:.2f} within the task's "
            f"{load.duration:.0f} s at {load.rms_current[k]:.1f} A RMS"
            + (f" (5 % quantile {t:.0f} s)" if math.isfinite(t) else ""))
    if r >= params.refuse_risk:
        return Judgement(refuse=what)
    if r >= params.derate_risk:
        return Judgement(payload_cap=load.payload, note=f"{what}: derated, no heavier payload than "
                                                        f"{load.payload:.1f} kg until the forecast is calm")
    return Judgement(note=f"twin forecast: risk {r:.2f} at most")
