"""The simulated world: MuJoCo physics for several humanoids plus their motor, thermal, battery, sensor and fault
models. Pure: no ROS, no clock of its own (simulation time advances only through ``step``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mujoco
import numpy as np

from sigma_sim.battery import BatteryModel, motor_power
from sigma_sim.builder import FOOT_CLEARANCE, RobotIndex, build_model, human_park, lowest_point
from sigma_sim.degradation import Spread, no_spread, sample_spread
from sigma_sim.faults import DEGRADATION_KINDS, Fault, FaultBook, FaultError
from sigma_sim.humans import Detection, Human, detect
from sigma_sim.noise import ImuNoise, ImuNoiseConfig, OdometryNoise, OdometryNoiseConfig, bearing_vibration
from sigma_sim.robot_model import ActuatorTable, RobotDescription
from sigma_sim.thermal import ThermalModel, ThermalParams, winding_resistance
from sigma_sim.world import World

PUSH_DURATION = 0.1  # s over which a push impulse is applied
MAX_PAYLOAD = 30.0  # kg: the most a tote held between the hands may weigh (sim/set_payload)
PAYLOAD_RATE = 5.0  # kg/s: the tote's weight moves onto (or off) the hands gradually, as in a real lift
HANDS = ("left_forearm", "right_forearm")  # links that carry a held tote, half of its mass each
SPARE_HUMANS = 4  # person bodies kept for human_approach faults
# Planar base acceleration limits [m/s², m/s², rad/s²]: stops from 1 m/s in 0.5 s, as sigma_safety assumes.
BASE_ACCEL = np.array([2.0, 2.0, 4.0])


class CommandError(ValueError):
    """A command that is refused (and not applied); the message says why."""


@dataclass(frozen=True)
class SimConfig:
    base_mode: str = "planar"
    physics_rate: float = 500.0
    seed: int = 0
    idle_power: float = 60.0  # W, onboard electronics
    locomotion_efficiency: float = 0.5  # planar base: electrical = mechanical / efficiency
    dock_radius: float = 0.5  # m: a robot standing still this close to a dock charges
    charge_power: float = 400.0  # W delivered by a dock
    battery_capacity_ah: float = 15.0
    battery_resistance: float = 0.08
    ambient_temperature: float = 25.0
    human_sensor_range: float = 8.0
    human_sensor_fov: float = 2.4  # rad
    human_position_std: float = 0.05  # m
    imu_noise: ImuNoiseConfig = field(default_factory=ImuNoiseConfig)
    odom_noise: OdometryNoiseConfig = field(default_factory=OdometryNoiseConfig)
    #: hidden per-robot manufacturing spread: thermal constants, winding resistance, battery (sigma_sim.degradation)
    manufacturing_spread: float = 0.10


class Robot:
    """Per-robot state outside MuJoCo: targets, brake, battery, thermal, noise."""

    def __init__(self, index: RobotIndex, robot: RobotDescription, act: ActuatorTable, cfg: SimConfig,
                 spread: Spread | None = None) -> None:
        spread = spread or no_spread(len(robot.joints))
        self.spread = spread  # how this unit differs from its datasheet: ground truth, never published
        self.index = index
        self.id = index.robot_id
        self.target = np.zeros(len(robot.joints))
        self.rate_limit = np.array([j.velocity for j in robot.joints])
        self.base_cmd = np.zeros(3)  # vx, vy [m/s] in the base frame, wz [rad/s]
        self.base_setpoint = np.zeros(3)  # base_cmd reached at a bounded acceleration (BASE_ACCEL)
        self.brake = False
        self.battery = BatteryModel(cfg.battery_capacity_ah * spread.capacity,
                                    cfg.battery_resistance * spread.internal_resistance)
        self.capacity0 = self.battery.capacity_ah
        self.thermal = ThermalModel(
            ThermalParams(act["c_winding"] * spread.c_winding, act["c_housing"] * spread.c_housing,
                          act["r_winding_housing"] * spread.r_winding_housing,
                          act["r_housing_ambient"] * spread.r_housing_ambient),
            cfg.ambient_temperature,
        )
        n = len(robot.joints)
        self.r0_scale = spread.winding_resistance.copy()  # x (1 + drift) under winding_drift
        self.sensor_bias = np.zeros(n)  # K added to the winding temperature reading (temp_bias_drift)
        self.frozen_winding = np.full(n, np.nan)  # a spoofed winding sensor repeats this value
        self.degraded = False  # a degradation fault changed this robot's state (restored once none is active)
        self.bearing_wear = 0.0  # summed friction_growth level: drives the IMU's bearing vibration (noise.py)
        self.imu_noise = ImuNoise(cfg.imu_noise)
        self.odom_noise = OdometryNoise(cfg.odom_noise)
        self.current = np.zeros(len(robot.joints))
        self.extra_heat = np.zeros(len(robot.joints))
        self.tripped = np.zeros(len(robot.joints), dtype=bool)  # drive over-temperature cut-out
        self.torque_fraction = 1.0  # the safety gate's torque limit: share of each actuator's rated peak effort
        self.push_until = -1.0
        self.push_force = np.zeros(3)
        self.last_imu_time = 0.0


class Simulation:
    """Several humanoids in one world. Units SI, angles rad, temperatures degC."""

    def __init__(
        self, world: World, robot: RobotDescription, actuators: ActuatorTable, robot_ids: list[str], cfg: SimConfig
    ) -> None:
        if len(set(robot_ids)) != len(robot_ids) or not robot_ids:
            raise ValueError(f"robot ids must be unique and non-empty, got {robot_ids}")
        self.cfg = cfg
        self.world = world
        self.description = robot
        self.joint_names = robot.joint_names
        self.lower = np.array([j.lower for j in robot.joints])
        self.upper = np.array([j.upper for j in robot.joints])
        self.effort_limit = np.array([j.effort for j in robot.joints])
        self.kt_gear = actuators["torque_constant"] * np.array([j.gear for j in robot.joints])
        self.r0 = actuators["winding_resistance"]
        self.max_winding = actuators["max_winding_temperature"]
        self.model, indices = build_model(world, robot, actuators, robot_ids, cfg.base_mode, cfg.physics_rate,
                                          n_humans=len(world.humans) + SPARE_HUMANS)
        self.data = mujoco.MjData(self.model)
        self.dt = float(self.model.opt.timestep)
        spread_rng = np.random.default_rng([cfg.seed, 2])
        self.robots = {
            ix.robot_id: Robot(ix, robot, actuators, cfg, sample_spread(spread_rng, len(robot.joints),
                                                                     cfg.manufacturing_spread))
            for ix in indices
        }
        self._friction0 = self.model.dof_frictionloss.copy()
        self.faults = FaultBook(self.joint_names)
        self.rng = np.random.default_rng(cfg.seed)
        self.human_rng = np.random.default_rng([cfg.seed, 1])
        self.humans = [
            Human(h.id, np.array(h.start), h.speed, list(h.waypoints), h.mode, world.bounds) for h in world.humans
        ]
        self._approach_count = 0
        self._slots = {h.id: k for k, h in enumerate(self.humans)}  # person id -> mocap body
        self._free_slots = list(range(len(self.humans), len(self.humans) + SPARE_HUMANS))
        self._all_act = np.concatenate([r.index.actuators for r in self.robots.values()])
        self._all_dof = np.concatenate([r.index.dof for r in self.robots.values()])
        self._base_act = np.concatenate([r.index.base_actuators for r in self.robots.values()]).astype(int)
        self._base_dof = np.concatenate(
            [np.arange(r.index.base_dof, r.index.base_dof + 3) for r in self.robots.values()
             if r.index.base_actuators.size] or [np.zeros(0, dtype=int)]
        )
        self._sync_humans()
        self._reset_poses()

    # ----------------------------------------------------------------- set-up
    def _reset_poses(self) -> None:
        m, d = self.model, self.data
        for r in self.robots.values():
            x, y, yaw = r.index.spawn
            b = r.index.base_qpos
            if self.cfg.base_mode == "free":
                d.qpos[b:b + 3] = (x, y, 0.0)
                d.qpos[b + 3:b + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
            else:
                d.qpos[b:b + 3] = (x, y, yaw)
        mujoco.mj_forward(m, d)
        for r in self.robots.values():
            bodies = {i for i in range(m.nbody) if m.body_rootid[i] == r.index.base_body}
            lift = -lowest_point(m, d, bodies) + (FOOT_CLEARANCE if self.cfg.base_mode == "planar" else 0.002)
            if self.cfg.base_mode == "free":
                d.qpos[r.index.base_qpos + 2] += lift
            else:  # planar: no z joint; raise the whole robot's root body
                m.body_pos[r.index.base_body, 2] += lift
        mujoco.mj_forward(m, d)

    # ----------------------------------------------------------------- commands
    def robot(self, robot_id: str) -> Robot:
        try:
            return self.robots[robot_id]
        except KeyError:
            raise CommandError(f"unknown robot {robot_id!r}") from None

    def set_joint_targets(
        self, robot_id: str, names: list[str], positions: list[float], velocities: list[float] | None = None
    ) -> None:
        """Set position targets (all-or-nothing): refused for unknown names, NaN/inf or out-of-limit values."""
        r = self.robot(robot_id)
        if len(names) != len(positions):
            raise CommandError(f"{len(names)} names but {len(positions)} positions")
        if velocities and len(velocities) != len(names):
            raise CommandError(f"{len(names)} names but {len(velocities)} velocity limits")
        if r.brake:
            raise CommandError("brake engaged: joint commands are not applied")
        idx = []
        for k, (n, p) in enumerate(zip(names, positions, strict=True)):
            if n not in self.joint_names:
                raise CommandError(f"unknown joint {n!r}")
            i = self.joint_names.index(n)
            if not math.isfinite(p):
                raise CommandError(f"{n}: target {p} is not finite")
            if not self.lower[i] <= p <= self.upper[i]:
                raise CommandError(f"{n}: target {p:.4f} outside limits [{self.lower[i]:.4f}, {self.upper[i]:.4f}]")
            if velocities and not (math.isfinite(velocities[k]) and velocities[k] > 0):
                raise CommandError(f"{n}: velocity limit {velocities[k]} must be finite and > 0")
            idx.append(i)
        for k, i in enumerate(idx):
            r.target[i] = positions[k]
            r.rate_limit[i] = min(velocities[k], self.description.joints[i].velocity) if velocities else (
                self.description.joints[i].velocity)

    def set_base_velocity(self, robot_id: str, vx: float, vy: float, wz: float) -> None:
        """Base velocity command in the base frame; refused when not finite."""
        r = self.robot(robot_id)
        if not all(math.isfinite(v) for v in (vx, vy, wz)):
            raise CommandError(f"base velocity ({vx}, {vy}, {wz}) is not finite")
        r.base_cmd[:] = (0.0, 0.0, 0.0) if r.brake else (vx, vy, wz)

    def set_brake(self, robot_id: str, engaged: bool) -> None:
        """Brakes: lock every joint where it is, stop the base; release resumes holding the current pose."""
        r = self.robot(robot_id)
        if engaged and not r.brake:
            r.base_cmd[:] = 0.0
        q = self.data.qpos[r.index.qpos]
        r.target[:] = np.clip(q, self.lower, self.upper)
        self.data.ctrl[r.index.actuators] = r.target
        r.brake = engaged
        self._apply_locks(r)

    def inject_fault(
        self, robot_id: str, kind: str, target: str, magnitude: float, duration: float
    ) -> Fault:
        """Validate and start a fault now (see sigma_sim.faults.KINDS); raises FaultError/CommandError."""
        r = self.robot(robot_id)
        if kind == "human_approach" and not self._free_slots:
            raise FaultError(f"human_approach: at most {SPARE_HUMANS} approaching people at once")
        fault = self.faults.inject(robot_id, kind, target, magnitude, duration, self.time)
        if kind == "push":
            yaw = self.base_yaw(r)
            force = magnitude / PUSH_DURATION
            r.push_force = np.array([force * math.cos(yaw), force * math.sin(yaw), 0.0])
            r.push_until = self.time + PUSH_DURATION
        elif kind == "human_approach":
            self._approach_count += 1
            xy, yaw = self.data.xpos[r.index.base_body, :2].copy(), self.base_yaw(r)
            start = xy + 0.8 * self.cfg.human_sensor_range * np.array([math.cos(yaw), math.sin(yaw)])
            human = Human(f"approach_{self._approach_count}", start, magnitude, mode="approach")
            human.goal = xy
            self.humans.append(human)
            self._slots[human.id] = self._free_slots.pop(0)
            self._sync_humans()
            fault.target = human.id
        self._apply_faults()
        return fault

    def set_torque_limit(self, robot_id: str, fraction: float) -> None:
        """The drives' torque limit (from the safety gate's ``driver/torque_limit``): every actuator of the robot may
        apply at most ``fraction`` of its rated peak effort (1 = its rating, 0 = torque off; the brakes still lock).
        Refused when not finite or outside [0, 1]."""
        r = self.robot(robot_id)
        if not (math.isfinite(fraction) and 0.0 <= fraction <= 1.0):
            raise CommandError(f"torque limit {fraction} is not within [0, 1]")
        r.torque_fraction = float(fraction)
        self._apply_force_limits(r)

    def set_payload(self, robot_id: str, mass: float) -> str:
        """The tote held between the hands [kg] (0 releases): half its mass as a point mass at each forearm's tip.

        Stands in for a real grasp: the arms' joint torques, currents and heat then carry it. The weight moves onto
        the hands at PAYLOAD_RATE (a lift takes about a second), not in one step. Raises CommandError.
        """
        r = self.robot(robot_id)
        if not (isinstance(mass, (int, float)) and math.isfinite(mass) and 0.0 <= mass <= MAX_PAYLOAD):
            raise CommandError(f"payload {mass!r} kg outside [0, {MAX_PAYLOAD}]")
        m = self.model
        if not hasattr(r, "hand_bodies"):
            r.hand_bodies = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{robot_id}/{h}") for h in HANDS]
            r.hand_mass0 = [float(m.body_mass[b]) for b in r.hand_bodies]
            r.hand_ipos0 = [m.body_ipos[b].copy() for b in r.hand_bodies]
            r.payload = 0.0
        r.payload_target = float(mass)
        return f"{robot_id} holds {mass:g} kg" if mass > 0 else f"{robot_id} released its payload"

    def _ramp_payloads(self, span: float) -> None:
        m = self.model
        for r in self.robots.values():
            target = getattr(r, "payload_target", None)
            if target is None or target == r.payload:
                continue
            step = PAYLOAD_RATE * span
            r.payload = min(target, r.payload + step) if target > r.payload else max(target, r.payload - step)
            half = 0.5 * r.payload
            for b, m0, ipos0 in zip(r.hand_bodies, r.hand_mass0, r.hand_ipos0, strict=True):
                m.body_mass[b] = m0 + half
                m.body_ipos[b] = (m0 * ipos0 + half * 2.0 * ipos0) / (m0 + half)   # the tip: twice the centre

    # ----------------------------------------------------------------- physics
    @property
    def time(self) -> float:
        return float(self.data.time)

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps, integrating motor losses, battery and thermal models alongside.

        Works in chunks of at most 10 ms: people, base set-points, device models and fault expiry update between
        chunks, so a long ``step`` behaves like the node's 10 ms ticks (people do not teleport through robots)."""
        chunk = max(1, round(0.01 / self.dt))
        while n > 0:
            self._step_chunk(min(n, chunk))
            n -= chunk

    def _step_chunk(self, n: int) -> None:
        m, d = self.model, self.data
        robots = list(self.robots.values())
        nr, nj = len(robots), len(self.joint_names)
        energy = np.zeros(nr)
        heat_sum = np.zeros((nr, nj))
        if self.faults.faults or any(r.degraded for r in robots):
            self._degrade(robots)
        r0 = np.stack([winding_resistance(self.r0 * r.r0_scale, r.thermal.t_winding) for r in robots])
        targets = np.concatenate([r.target for r in robots])
        limits = np.concatenate([r.rate_limit for r in robots]) * self.dt
        for r in robots:  # base servo set-points and pushes change at most once per call
            self._drive_base(r, n * self.dt)
        self._ramp_payloads(n * self.dt)
        for _ in range(n):
            ctrl = d.ctrl[self._all_act]
            d.ctrl[self._all_act] = np.clip(targets, ctrl - limits, ctrl + limits)
            mujoco.mj_step(m, d)
            tau = d.actuator_force[self._all_act].reshape(nr, nj)
            omega = d.qvel[self._all_dof].reshape(nr, nj)
            current = np.abs(tau) / self.kt_gear
            p = motor_power(tau, omega, current, r0)
            heat_sum += current * current * r0
            energy += p.sum(axis=1)
            if self._base_act.size:
                base = np.abs(d.actuator_force[self._base_act] * d.qvel[self._base_dof]).reshape(nr, 3)
                energy += base.sum(axis=1) / self.cfg.locomotion_efficiency
        span = n * self.dt
        for k, r in enumerate(robots):
            r.current = np.abs(d.actuator_force[r.index.actuators]) / self.kt_gear
            r.thermal.step(heat_sum[k] / max(n, 1) + r.extra_heat, span)
            self._protect(r)
            load = energy[k] * self.dt / span + self.cfg.idle_power if span > 0 else 0.0
            r.battery.step(load - (self.cfg.charge_power if self.docked(r) else 0.0), span)
        robots_xy = np.array([d.xpos[r.index.base_body, :2] for r in robots])
        for f in self.faults.faults:  # an approaching person walks at where the robot is now, not where it was
            if f.kind == "human_approach" and f.target in self._slots:
                goal = d.xpos[self.robots[f.robot].index.base_body, :2]
                next(h for h in self.humans if h.id == f.target).goal = goal.copy()
        headings = np.array([self.base_yaw(r) for r in robots])  # the line a yielding walker steps out of
        for h in self.humans:
            h.step(span, self.human_rng, robots_xy, headings)
        self._sync_humans()
        if self.faults.expire(self.time):
            self._apply_faults()

    def _degrade(self, robots: list[Robot]) -> None:
        """Slow degradation faults: levels grow linearly with the hours since injection (sigma_sim.degradation)."""
        now = self.time
        for r in robots:
            faults = [f for f in self.faults.faults if f.robot == r.id and f.kind in DEGRADATION_KINDS
                      and f.active(now)]
            if not faults and not r.degraded:
                continue
            r.degraded = bool(faults)  # no active one left: this pass restores the unit's own state
            cooling = np.ones(len(self.joint_names))
            r0_scale = r.spread.winding_resistance.copy()
            friction = np.ones(len(self.joint_names))
            r.sensor_bias[:] = 0.0
            capacity = r.capacity0
            r.bearing_wear = 0.0
            for f in faults:
                level = f.magnitude * (now - f.start) / 3600.0
                i = self.joint_names.index(f.target) if f.target in self.joint_names else -1
                if f.kind == "cooling_loss":
                    cooling[i] *= 1.0 + level
                elif f.kind == "winding_drift":
                    r0_scale[i] *= 1.0 + level
                elif f.kind == "friction_growth":
                    friction[i] *= 1.0 + level
                    r.bearing_wear += level
                elif f.kind == "temp_bias_drift":
                    r.sensor_bias[i] += level
                elif f.kind == "capacity_fade":
                    capacity *= max(1.0 - level, 0.01)
                elif f.kind == "spoofed_temperature" and math.isnan(r.frozen_winding[i]):
                    r.frozen_winding[i] = r.thermal.t_winding[i]
            spoofed = {self.joint_names.index(f.target) for f in faults if f.kind == "spoofed_temperature"}
            for i in range(len(self.joint_names)):
                if i not in spoofed:
                    r.frozen_winding[i] = np.nan
            r.thermal.cooling_factor = np.where(r.thermal.cooling_factor >= 10.0, r.thermal.cooling_factor, cooling)
            r.r0_scale = r0_scale
            dof = r.index.dof
            # Bearing wear: Coulomb friction grows from the joint's own plus 2 % of its effort limit per unit level.
            self.model.dof_frictionloss[dof] = (self._friction0[dof] * friction
                                                + 0.02 * self.effort_limit * (friction - 1.0))
            r.battery.capacity_ah = capacity

    def _protect(self, r: Robot) -> None:
        """Drive over-temperature protection: torque off above the winding limit, back on 10 K below it."""
        tw = r.thermal.t_winding
        tripped = np.where(r.tripped, tw > self.max_winding - 10.0, tw > self.max_winding)
        if np.array_equal(tripped, r.tripped):
            return
        r.tripped = tripped
        self._apply_force_limits(r)

    def _apply_force_limits(self, r: Robot) -> None:
        """Each actuator's force range: its rated effort times the commanded torque limit, 0 where the drive's
        over-temperature protection tripped."""
        limit = np.where(r.tripped, 0.0, self.effort_limit * r.torque_fraction)
        self.model.actuator_forcerange[r.index.actuators] = np.stack([-limit, limit], axis=1)

    def _drive_base(self, r: Robot, span: float) -> None:
        d = self.data
        if self.time < r.push_until:  # applied for whole calls: the node steps 10 ms at a time
            d.xfrc_applied[r.index.base_body, :3] = r.push_force
        elif r.push_until > 0:
            d.xfrc_applied[r.index.base_body, :3] = 0.0
            r.push_until = -1.0
        if r.index.base_actuators.size:
            yaw = float(d.qpos[r.index.base_qpos + 2])
            # A humanoid cannot change its walking speed instantly: the set-point follows the command at a bounded
            # acceleration (an instant stop would whip the arms and trip the unsafe-motion rule on its own).
            step = BASE_ACCEL * span
            r.base_setpoint += np.clip(r.base_cmd - r.base_setpoint, -step, step)
            vx, vy, wz = r.base_setpoint
            c, s = math.cos(yaw), math.sin(yaw)
            d.ctrl[r.index.base_actuators] = (c * vx - s * vy, s * vx + c * vy, wz)

    def _apply_locks(self, r: Robot) -> None:
        stuck = {f.target for f in self.faults.active(r.id, "stuck_joint", self.time)}
        for i, name in enumerate(self.joint_names):
            eq = r.index.locks[i]
            lock = r.brake or name in stuck
            if lock and not self.data.eq_active[eq]:
                self.model.eq_data[eq, 0] = self.data.qpos[r.index.qpos[i]]
                self.model.eq_data[eq, 1:5] = 0.0
            self.data.eq_active[eq] = lock

    def _apply_faults(self) -> None:
        now = self.time
        for r in self.robots.values():
            r.thermal.cooling_factor[:] = 1.0
            r.extra_heat[:] = 0.0
            for f in self.faults.active(r.id, "overheat", now):
                i = self.joint_names.index(f.target)
                r.thermal.cooling_factor[i] = 10.0
                r.extra_heat[i] += f.magnitude
            r.battery.extra_resistance = sum(f.magnitude for f in self.faults.active(r.id, "battery_sag", now))
            self._apply_locks(r)
        approaching = {f.target for f in self.faults.faults if f.kind == "human_approach"}
        for h in self.humans:
            if h.mode == "approach" and h.id not in approaching:
                slot = self._slots.pop(h.id)
                self.data.mocap_pos[slot] = human_park(slot)
                self._free_slots.append(slot)
        self.humans = [h for h in self.humans if h.id in self._slots]

    def _sync_humans(self) -> None:
        for h in self.humans:
            self.data.mocap_pos[self._slots[h.id], :2] = h.position

    # ----------------------------------------------------------------- readings
    def base_yaw(self, r: Robot) -> float:
        w, x, y, z = self.data.xquat[r.index.base_body]
        return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))

    def docked(self, r: Robot) -> bool:
        """Standing still (< 5 cm/s) within ``dock_radius`` of a docking station."""
        xy = self.data.xpos[r.index.base_body, :2]
        if not any(math.hypot(xy[0] - x, xy[1] - y) < self.cfg.dock_radius for x, y, _ in self.world.docks.values()):
            return False
        return float(np.abs(self.data.qvel[r.index.base_dof:r.index.base_dof + 2]).max()) < 0.05

    def silenced(self, robot_id: str, topic: str) -> bool:
        return bool(self.faults.faults) and any(
            f.target == topic for f in self.faults.active(robot_id, "silent_topic", self.time))

    def joint_state(self, robot_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Measured (position, velocity, effort) as the drives report them, faults included."""
        r, d, now = self.robot(robot_id), self.data, self.time
        pos = d.qpos[r.index.qpos].copy()
        vel = d.qvel[r.index.dof].copy()
        eff = d.actuator_force[r.index.actuators].copy()
        if not self.faults.faults:  # the common case: skip the fault look-ups
            return pos, vel, eff
        for f in self.faults.active(robot_id, "encoder_bias", now):
            pos[self.joint_names.index(f.target)] += f.magnitude
        for f in self.faults.active(robot_id, "encoder_noise", now):
            pos[self.joint_names.index(f.target)] += self.rng.normal(0.0, f.magnitude)
        for f in self.faults.active(robot_id, "spoofed_sensor", now):
            if f.target == "joint_states":  # joints "moving" while positions stay put
                vel[:] = f.magnitude
        return pos, vel, eff

    def imu(self, robot_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(orientation quaternion w,x,y,z, angular velocity [rad/s], linear acceleration [m/s^2]), with noise."""
        r, sd = self.robot(robot_id), self.data.sensordata
        quat = sd[r.index.quat:r.index.quat + 4].copy()
        gyro, accel = r.imu_noise.apply(
            self.rng, sd[r.index.gyro:r.index.gyro + 3], sd[r.index.accel:r.index.accel + 3],
            self.time - r.last_imu_time,
        )
        r.last_imu_time = self.time
        if r.bearing_wear > 0.0:  # a worn bearing shakes the structure the IMU sits on
            accel = accel + bearing_vibration(self.rng, self.time, r.bearing_wear)
        for f in self.faults.active(robot_id, "spoofed_sensor", self.time):
            if f.target == "imu":  # spinning and in free fall, while the orientation says otherwise
                gyro = np.array([0.0, 0.0, f.magnitude])
                accel = np.zeros(3)
        return quat, gyro, accel

    def odometry_reading(self, robot_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the odometry sensor reports: :meth:`odometry` with the configured white noise (``cfg.odom_noise``,
        whose variances the published covariances state)."""
        return self.robot(robot_id).odom_noise.apply(self.rng, *self.odometry(robot_id))

    def odometry(self, robot_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Base (position, quaternion w,x,y,z) in the world and (linear, angular) velocity in the base frame."""
        r = self.robot(robot_id)
        vel = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_XBODY, r.index.base_body, vel, 1)
        return self.data.xpos[r.index.base_body].copy(), self.data.xquat[r.index.base_body].copy(), vel[3:], vel[:3]

    def actuator_health(self, robot_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(winding temperature, housing temperature, current, bus voltage)."""
        r = self.robot(robot_id)
        t_winding = r.thermal.t_winding + r.sensor_bias
        t_winding = np.where(np.isnan(r.frozen_winding), t_winding, r.frozen_winding)  # spoofed_temperature
        return t_winding, r.thermal.t_housing.copy(), r.current.copy(), r.battery.voltage

    def detections(self, robot_id: str) -> list[Detection]:
        r = self.robot(robot_id)
        pos, _, lin, _ = self.odometry(robot_id)
        yaw = self.base_yaw(r)
        c, s = math.cos(yaw), math.sin(yaw)
        world_vel = np.array([c * lin[0] - s * lin[1], s * lin[0] + c * lin[1]])
        cfg = self.cfg
        return detect(self.humans, pos[:2], yaw, world_vel, cfg.human_sensor_range, cfg.human_sensor_fov,
                      cfg.human_position_std, self.rng)
