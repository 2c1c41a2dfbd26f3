"""Cost of a (robot, task) pair, in the spirit of Open-RMF's bids: when would this robot finish this task?

A bid is the time from now until the task is done if this robot takes it next after its queue: travel to the start
(path length / speed on the site map), the task's own legs, handling, waiting for `earliest_start`, plus a penalty
for finishing after the deadline. Feasibility: payload capability, battery (energy model; if the battery does not
suffice a charging stop at the nearest dock is inserted first, as rmf_task does), and the digital twin's risk (a
robot with a maintenance window coming or a degraded motor gets no long or heavy task).

Everything is vectorised over arrays of (task, robot) pairs, so a 1,000 x 1,000 batch costs milliseconds. Path
lengths come from an injected `PairDistance` (the site map's A* in sigma_core; straight lines by default).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sigma_tasks.model import Point, TaskKind

# Path length between paired points: a (k, 2) and b (k, 2) → (k,) metres.
PairDistance = Callable[[np.ndarray, np.ndarray], np.ndarray]

G = 9.81


def euclidean_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Straight-line lengths between paired points (a lower bound of every path)."""
    return np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])


def pairwise(fn: Callable[[Point, Point], float]) -> PairDistance:
    """Adapt a scalar distance function (e.g. an A* path length) to the vectorised form."""

    def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.fromiter(
            (fn((float(p[0]), float(p[1])), (float(q[0]), float(q[1]))) for p, q in zip(a, b, strict=True)),
            dtype=float,
            count=len(a),
        )

    return distances


class Infeasible(enum.IntEnum):
    """Why a robot cannot take a task (0 = it can)."""

    OK = 0
    UNAVAILABLE = 1
    PAYLOAD = 2
    BATTERY = 3
    RISK_HEAVY = 4
    RISK_LONG = 5
    MAINTENANCE = 6
    UNREACHABLE = 7
    KEPT_AWAY = 8

    @property
    def words(self) -> str:
        return _WORDS[self]


_WORDS = {
    Infeasible.OK: "feasible",
    Infeasible.UNAVAILABLE: "robot unavailable (failed, stopped or queue full)",
    Infeasible.PAYLOAD: "payload above the robot's capability",
    Infeasible.BATTERY: "battery cannot cover the task even after charging",
    Infeasible.RISK_HEAVY: "degraded motor: no heavy task",
    Infeasible.RISK_LONG: "degraded motor: no long task",
    Infeasible.MAINTENANCE: "task would run into the robot's maintenance window",
    Infeasible.UNREACHABLE: "no path to the task's places",
    Infeasible.KEPT_AWAY: "taken away from this robot (degraded) a short while ago",
}


@dataclass(frozen=True)
class CostParams:
    """Energy model and cost weights. SI units."""

    robot_mass_kg: float = 68.0  # the humanoid (urdf/)
    cost_of_transport: float = 0.35  # walking energy per (weight x distance), dimensionless
    idle_power_w: float = 120.0  # electronics, balance, compute
    charge_power_w: float = 600.0
    reserve_fraction: float = 0.15  # never plan below this state of charge
    handling_s: float = 15.0  # pick or place a tote
    charge_to: float = 0.95  # charge to this state of charge when a stop is inserted
    lateness_weight: float = 10.0  # cost seconds per second late
    queue_weight_s: float = 5.0  # per task already queued on the robot (spreads work)
    heavy_kg: float = 5.0  # a degraded robot carries at most this
    long_s: float = 300.0  # a degraded robot takes no task longer than this
    unassigned_base_s: float = 86400.0  # leaving a priority-0 task unassigned this round (above any feasible plan)
    priority_factor: float = 1.0  # unassigned cost x (1 + factor x priority)

    def __post_init__(self) -> None:
        for name in ("robot_mass_kg", "cost_of_transport", "charge_power_w", "handling_s", "unassigned_base_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"CostParams.{name} must be > 0, got {value}")
        if not 0.0 <= self.reserve_fraction < self.charge_to <= 1.0:
            raise ValueError("CostParams needs 0 <= reserve_fraction < charge_to <= 1")

    def joules_per_m(self, payload_kg: np.ndarray | float) -> np.ndarray | float:
        return self.cost_of_transport * (self.robot_mass_kg + payload_kg) * G

    def unassigned_cost(self, priority: np.ndarray) -> np.ndarray:
        return self.unassigned_base_s * (1.0 + self.priority_factor * priority)


@dataclass(frozen=True)
class RobotState:
    """What the leader knows about one robot, with its queue folded in: where and when its queue ends."""

    robot_id: str
    position: Point  # where the robot will be when its queue ends (its pose if idle)
    speed_mps: float = 1.0
    battery_wh: float = 1000.0  # energy left when its queue ends
    capacity_wh: float = 1000.0
    max_payload_kg: float = 20.0
    busy_until: float = 0.0  # time its queue ends
    queue_len: int = 0
    available: bool = True  # False: failed, protective stop, left the mesh
    degraded: bool = False  # twin: a degraded motor
    maintenance_at: float | None = None  # twin: a maintenance window starts at this time


@dataclass(frozen=True)
class TaskArrays:
    """Tasks as arrays (index j)."""

    start: np.ndarray  # (n, 2) first place
    end: np.ndarray  # (n, 2) last place
    loaded_m: np.ndarray  # (n,) path length start → end (0 for go_to / charge)
    payload: np.ndarray  # (n,)
    handling: np.ndarray  # (n,) seconds of handling at the places
    earliest: np.ndarray  # (n,)
    deadline: np.ndarray  # (n,) +inf if none
    priority: np.ndarray  # (n,)
    home_m: np.ndarray  # (n,) path length from the last place to its nearest dock (0 if the site has none)


@dataclass(frozen=True)
class RobotArrays:
    """Robots as arrays (index i)."""

    pos: np.ndarray
    speed: np.ndarray
    battery_j: np.ndarray
    capacity_j: np.ndarray
    max_payload: np.ndarray
    busy_until: np.ndarray
    queue_len: np.ndarray
    available: np.ndarray
    degraded: np.ndarray
    maintenance_at: np.ndarray  # +inf if none
    dock_pos: np.ndarray  # (m, 2) nearest dock (nan if the site has none)
    dock_m: np.ndarray  # (m,) path length to it

    @classmethod
    def build(cls, robots: Sequence[RobotState], docks: Sequence[Point], dist: PairDistance) -> RobotArrays:
        m = len(robots)
        pos = np.array([r.position for r in robots], dtype=float).reshape(m, 2)
        dock_pos = np.full((m, 2), np.nan)
        dock_m = np.full(m, np.inf)
        for d in docks:
            dd = dist(pos, np.tile(np.asarray(d, dtype=float), (m, 1))) if m else np.zeros(0)
            better = dd < dock_m
            dock_m = np.where(better, dd, dock_m)
            dock_pos[better] = d
        return cls(
            pos=pos,
            speed=np.array([r.speed_mps for r in robots], dtype=float),
            battery_j=np.array([r.battery_wh for r in robots], dtype=float) * 3600.0,
            capacity_j=np.array([r.capacity_wh for r in robots], dtype=float) * 3600.0,
            max_payload=np.array([r.max_payload_kg for r in robots], dtype=float),
            busy_until=np.array([r.busy_until for r in robots], dtype=float),
            queue_len=np.array([r.queue_len for r in robots], dtype=float),
            available=np.array([r.available for r in robots], dtype=bool),
            degraded=np.array([r.degraded for r in robots], dtype=bool),
            maintenance_at=np.array(
                [np.inf if r.maintenance_at is None else r.maintenance_at for r in robots], dtype=float
            ),
            dock_pos=dock_pos,
            dock_m=dock_m,
        )


@dataclass(frozen=True)
class Bids:
    """Bids for pairs (task j[k], robot i[k])."""

    j: np.ndarray
    i: np.ndarray
    cost: np.ndarray  # seconds; +inf where infeasible
    finish: np.ndarray  # absolute time the task would be done
    energy_j: np.ndarray  # battery left afterwards [J]
    charge_first: np.ndarray  # bool: a charging stop is inserted before the task
    reason: np.ndarray  # Infeasible codes


TASK_HANDLING = {TaskKind.DELIVER: 2, TaskKind.GO_TO: 0, TaskKind.CHARGE: 0}


def bid(
    tasks: TaskArrays,
    robots: RobotArrays,
    j: np.ndarray,
    i: np.ndarray,
    *,
    now: float,
    dist: PairDistance,
    params: CostParams,
) -> Bids:
    """Bids of robots i[k] for tasks j[k] (vectorised; the charging alternative only where it is needed)."""
    p = params
    speed = robots.speed[i]
    t0 = np.maximum(now, robots.busy_until[i]) if robots.busy_until.any() else np.full(len(j), float(now))
    empty_m = dist(robots.pos[i], tasks.start[j])
    loaded_m = tasks.loaded_m[j]
    payload = tasks.payload[j]
    per_m_empty = p.joules_per_m(0.0)

    def plan(s: np.ndarray | slice, start_time: np.ndarray, empty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        js = j[s]
        begin = np.maximum(start_time + empty / speed[s], tasks.earliest[js])
        finish = begin + loaded_m[s] / speed[s] + tasks.handling[js]
        joules = p.idle_power_w * (finish - start_time) + per_m_empty * empty + p.joules_per_m(payload[s]) * loaded_m[s]
        return finish, joules

    # Direct: go now (after the queue) and keep enough to reach a dock with the reserve left.
    everything = slice(None)
    finish, used = plan(everything, t0, empty_m)
    home_j = (per_m_empty + p.idle_power_w / speed) * tasks.home_m[j]
    floor_j = p.reserve_fraction * robots.capacity_j[i] + home_j
    left = robots.battery_j[i] - used
    direct_ok = left >= floor_j
    feasible_energy = direct_ok.copy()
    charge_first = np.zeros(len(j), dtype=bool)

    # With a charging stop at the robot's nearest dock first (only pairs the direct plan cannot cover).
    s = np.flatnonzero(~direct_ok)
    if len(s):
        rs = i[s]
        to_dock_m = robots.dock_m[rs]
        at_dock_j = robots.battery_j[rs] - (per_m_empty + p.idle_power_w / speed[s]) * to_dock_m
        target = p.charge_to * robots.capacity_j[rs]
        charge_s = np.maximum(target - at_dock_j, 0.0) / p.charge_power_w
        dock = np.where(np.isnan(robots.dock_pos[rs]), robots.pos[rs], robots.dock_pos[rs])
        finish_c, used_c = plan(s, t0[s] + to_dock_m / speed[s] + charge_s, dist(dock, tasks.start[j[s]]))
        left_c = np.maximum(at_dock_j, target) - used_c
        ok = np.isfinite(to_dock_m) & (at_dock_j >= 0.0) & (left_c >= floor_j[s])
        feasible_energy[s] = ok
        charge_first[s] = ok
        finish[s] = np.where(ok, finish_c, finish[s])
        left[s] = np.where(ok, left_c, left[s])

    reason = np.zeros(len(j), dtype=np.int8)
    reason[~feasible_energy] = Infeasible.BATTERY
    reason[~np.isfinite(empty_m) | ~np.isfinite(loaded_m)] = Infeasible.UNREACHABLE
    if np.isfinite(robots.maintenance_at).any():
        reason[finish > robots.maintenance_at[i]] = Infeasible.MAINTENANCE
    if robots.degraded.any():
        degraded = robots.degraded[i]
        reason[degraded & (finish - t0 > p.long_s)] = Infeasible.RISK_LONG
        reason[degraded & (payload > p.heavy_kg)] = Infeasible.RISK_HEAVY
    reason[payload > robots.max_payload[i]] = Infeasible.PAYLOAD
    if not robots.available.all():
        reason[~robots.available[i]] = Infeasible.UNAVAILABLE

    cost = finish - now
    if np.isfinite(tasks.deadline).any():
        cost += p.lateness_weight * np.maximum(finish - tasks.deadline[j], 0.0)
    if robots.queue_len.any():
        cost += p.queue_weight_s * robots.queue_len[i]
    cost[reason != Infeasible.OK] = np.inf
    return Bids(j=j, i=i, cost=cost, finish=finish, energy_j=left, charge_first=charge_first, reason=reason)


def summarize_reasons(codes: np.ndarray) -> str:
    """Words for why no robot could take a task, most frequent first, e.g. 'payload … (3 robots); …'."""
    values, counts = np.unique(codes[codes != Infeasible.OK], return_counts=True)
    if len(values) == 0:
        return "no robot available"
    order = np.argsort(-counts, kind="stable")
    return "; ".join(f"{Infeasible(int(values[k])).words} ({int(counts[k])} robots)" for k in order)
