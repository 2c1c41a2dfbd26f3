"""One robot's twin behind named channels: what the node hands messages to, and what ``twin/health`` reports.

Maps joint names onto rows, vets every input with ``ChannelGuard`` (bad input lowers a channel's confidence and
says why, never raises), feeds the ``ActuatorTwin``/``BatteryTwin`` and assembles a plain report. Time is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sigma_twin.core.consistency import BatteryConsistency, Confirmation, ImuOdometryCheck, VibrationMonitor
from sigma_twin.core.params import ConsistencyParams, EstimatorParams, LimitParams, PrognosisParams, SpoofParams
from sigma_twin.core.sensors import ChannelGuard, Values
from sigma_twin.core.twin import MODES, ActuatorTwin, BatteryTwin, maintenance_window


@dataclass
class ComponentHealth:
    """Health of one actuator or battery (times in hours from the report's stamp; inf = beyond the horizon)."""

    name: str
    health: float
    rul_q05: float
    rul_q50: float
    rul_q95: float
    risk: float
    dominant: str
    states: dict[str, float]
    state_std: dict[str, float]
    confidence: float
    window_start: float = math.nan  # [s, same clock as the stamp]
    window_end: float = math.nan
    reasons: list[str] = field(default_factory=list)


@dataclass
class RobotReport:
    stamp: float
    actuators: list[ComponentHealth]
    battery: ComponentHealth
    spoofed: list[str]
    window_start: float
    window_end: float
    reasons: list[str]
    inconsistent: list[str] = field(default_factory=list)  # sensors contradicting physics or each other (§9)
    consistency: dict[str, float] = field(default_factory=dict)  # residuals and signatures behind them


class RobotTwin:
    """The twin of one robot with joints ``joints`` and one battery pack."""

    def __init__(self, joints: list[str], est: EstimatorParams | None = None, limits: LimitParams | None = None,
                 prog: PrognosisParams | None = None, spoof: SpoofParams | None = None,
                 consistency: ConsistencyParams | None = None) -> None:
        if len(set(joints)) != len(joints) or not joints:
            raise ValueError(f"joint names must be unique and non-empty, got {joints}")
        self.joints = list(joints)
        self.est, self.limits = est or EstimatorParams(), limits or LimitParams()
        self.prog, self.spoof = prog or PrognosisParams(), spoof or SpoofParams()
        self.actuators = ActuatorTwin(len(joints), self.est, self.limits, self.prog, self.spoof)
        self.battery = BatteryTwin(1, self.est, self.limits, self.prog)
        self.guard = ChannelGuard([*(f"joint_states:{j}" for j in joints), *(f"actuator_health:{j}" for j in joints),
                                   "battery_state", "joint_states", "actuator_health", "imu", "odom"])
        self.consistency = consistency or ConsistencyParams()
        self.imu_odom = ImuOdometryCheck(self.consistency)
        self.battery_check = BatteryConsistency(self.consistency)
        self.vibration = VibrationMonitor(self.consistency)
        self.confirmation = Confirmation(self.consistency.confirm_time, self.consistency.release_time)
        self.rng = np.random.default_rng(self.prog.seed)

    def on_joint_states(self, t: float, names: list[str], position: Values, velocity: Values,
                        effort: Values) -> None:
        if not self.guard.stamp_ok("joint_states", t):
            return
        valid, v = self.guard.values("joint_states", list(names), self.joints,
                                     {"position": position, "velocity": velocity, "effort": effort})
        if not (len(position) and len(velocity) and len(effort)):
            self.guard.reject("joint_states", "joint_states: position, velocity or effort missing (friction needs all)")
            return
        self.guard.accept(valid, [f"joint_states:{j}" for j in self.joints])
        self.actuators.add_joint(t, v["position"], v["velocity"], v["effort"], valid)

    def on_actuator_health(self, t: float, names: list[str], t_winding: Values, t_housing: Values,
                           current: Values) -> None:
        if not self.guard.stamp_ok("actuator_health", t):
            return
        valid, v = self.guard.values("actuator_health", list(names), self.joints,
                                     {"t_winding": t_winding, "t_housing": t_housing, "current": current})
        self.guard.accept(valid, [f"actuator_health:{j}" for j in self.joints])
        self.actuators.add_health(t, np.abs(v["current"]), v["t_winding"], v["t_housing"], valid)

    def on_battery(self, t: float, voltage: float, current: float) -> None:
        """``current`` positive while discharging (the node converts from sensor_msgs/BatteryState's sign)."""
        if not self.guard.stamp_ok("battery_state", t):
            return
        if not (math.isfinite(voltage) and math.isfinite(current)) or voltage <= 0.0:
            self.guard.reject("battery_state", f"battery_state: voltage {voltage} V / current {current} A not usable")
            return
        self.guard.accept(np.array([True]), ["battery_state"])
        self.battery.add(t, np.array([voltage]), np.array([current]), np.array([True]))
        self.battery_check.add(t, voltage, current)

    def on_imu(self, t: float, gyro: Values, accel: Values) -> None:
        """One IMU sample: angular velocity [rad/s] and specific force [m/s^2], body frame."""
        g, a = np.asarray(gyro, dtype=float), np.asarray(accel, dtype=float)
        if g.shape != (3,) or a.shape != (3,):
            self.guard.reject("imu", "imu: angular velocity / linear acceleration not 3 finite values")
            return
        self.on_imu_batch(np.array([t], dtype=float), g.reshape(1, 3), a.reshape(1, 3))

    def on_imu_batch(self, t: np.ndarray, gyro: np.ndarray, accel: np.ndarray, malformed: int = 0,
                     settle: bool = True) -> None:
        """IMU samples in arrival order: stamps (n,), angular velocity (n, 3), specific force (n, 3); ``malformed``
        messages could not be read at all. Non-finite rows and stamps older than the newest are rejected.
        ``settle=False`` when the odometry batch of the same period follows (the comparison waits for it)."""
        ok = self._stamps_ok("imu", t, malformed)
        finite = np.isfinite(gyro).all(axis=1) & np.isfinite(accel).all(axis=1)
        if (ok & ~finite).any():
            self.guard.reject("imu", "imu: angular velocity / linear acceleration not 3 finite values")
        ok &= finite
        if ok.any():
            self.guard.accept_count("imu", int(ok.sum()))
            self.vibration.add_batch(t[ok], accel[ok, 2])
        self.imu_odom.add_imu_batch(t[ok], gyro[ok], accel[ok], settle)

    def on_odom(self, t: float, speed: float, yaw_rate: float) -> None:
        """One odometry sample: forward speed [m/s] and yaw rate [rad/s], body frame."""
        self.on_odom_batch(np.array([t], dtype=float), np.array([speed], dtype=float),
                           np.array([yaw_rate], dtype=float))

    def on_odom_batch(self, t: np.ndarray, speed: np.ndarray, yaw_rate: np.ndarray, malformed: int = 0) -> None:
        """Odometry samples in arrival order: stamps, forward speed [m/s], yaw rate [rad/s] (each (n,))."""
        ok = self._stamps_ok("odom", t, malformed)
        finite = np.isfinite(speed) & np.isfinite(yaw_rate)
        if (ok & ~finite).any():
            k = int(np.argmax(ok & ~finite))
            self.guard.reject("odom", f"odom: speed {speed[k]} / yaw rate {yaw_rate[k]} not finite")
        ok &= finite
        if ok.any():
            self.guard.accept_count("odom", int(ok.sum()))
        self.imu_odom.add_odom_batch(t[ok], speed[ok], yaw_rate[ok])

    def _stamps_ok(self, source: str, t: np.ndarray, malformed: int) -> np.ndarray:
        """Mask of finite stamps not older than the source's newest so far; each rejected one lowers confidence."""
        if malformed:
            self.guard.reject(source, f"{source}: {malformed} message(s) could not be read (malformed CDR)")
        ok = np.zeros(len(t), dtype=bool)
        for k, tk in enumerate(t):  # a few per call; stamp_ok keeps its per-sample reason and bookkeeping
            last = self.guard.last_stamp.get(source)
            if last is not None and math.isfinite(tk) and tk >= last:
                self.guard.last_stamp[source] = float(tk)
                ok[k] = True
            else:
                ok[k] = self.guard.stamp_ok(source, float(tk))
        return ok

    def confirmed_inconsistencies(self, t: float) -> list[str]:
        """Sensors whose cross-check has disagreed for ``confirm_time`` (hysteresis, data time ``t``): ``imu`` (IMU
        vs odometry, flagged and its median residual above tolerance), ``battery_voltage`` (voltage vs current
        draw), ``vibration`` (IMU band energy above its learnt level). twin_node adds them to ``twin/health``'s
        ``spoofed_sensors``, which sigma_safety's watchdog reads (sigma_safety.core.policy.TWIN_CROSS_CHECKS)."""
        return self.confirmation.update(t, {"imu": bool(self.imu_odom.flagged() and self.imu_odom.persistent()),
                                            "battery_voltage": self.battery_check.flag,
                                            "vibration": self.vibration.flag})

    def check_consistency(self) -> tuple[list[str], list[str], dict[str, float]]:
        """(inconsistent sensors, reasons, residuals and signatures) of the cross-sensor checks."""
        bad, why = [], []
        flagged = self.imu_odom.flagged()
        rms = self.imu_odom.rms()
        if flagged:
            bad.append("imu")
            why.append("IMU disagrees with odometry: " + ", ".join(f"{c} RMS residual {rms[c]:.2f}" for c in flagged))
        if self.battery_check.flag:
            bad.append("battery_voltage")
            why.append(self.battery_check.reason())
        if self.vibration.flag:
            why.append(self.vibration.reason())
        values = {f"imu_odom_{c}_rms": v for c, v in rms.items()}
        values.update({"battery_dv_di_resistance": self.battery_check.resistance,
                       "imu_band_energy": self.vibration.energy, "imu_kurtosis": self.vibration.kurt,
                       "imu_vibration_z": self.vibration.z})
        return bad, why, values

    def report(self, t: float) -> RobotReport:
        """Health of every actuator and the battery now (one vectorised forecast)."""
        fa = self.actuators.forecast(t, self.rng)
        fb = self.battery.forecast(t, self.rng)
        act, th = fa["actuator"], self.actuators.thermal
        ws, we = maintenance_window(t, act, self.prog)
        gain, gain_var = th.gain()
        # the running estimate (viscous term tied, round 24); the trend follows per-epoch points of the same model
        fric, fric_var = self.actuators.friction.tied()
        spoofed = [j for j, s in zip(self.joints, th.spoofed, strict=True) if s]
        out = []
        conf = self.guard.confidence
        for k, j in enumerate(self.joints):
            reasons = [r for c in (f"joint_states:{j}", f"actuator_health:{j}") for r in self.guard.reason.get(c, [])]
            if th.spoofed[k]:
                reasons.append(f"winding temperature sensor contradicts I^2R heating since t={th.spoof_since[k]:.0f} s")
            out.append(ComponentHealth(
                name=j, health=float(act.health[k]) if not th.spoofed[k] else 0.0,
                rul_q05=float(act.q05[k]), rul_q50=float(act.q50[k]), rul_q95=float(act.q95[k]),
                risk=float(act.risk[k]) if not th.spoofed[k] else 1.0, dominant=MODES[int(act.dominant[k])],
                states={"thermal_gain": float(gain[k]), "cooling_efficiency": float(th.cooling_efficiency()[k]),
                        "winding_resistance_ratio": float(th.resistance_ratio()[k]), "coulomb_friction": float(fric[k]),
                        "winding_sensor_bias": float(self.actuators.bias.bias[k]),
                        "consistency": float(th.consistency()[k])},
                state_std={"thermal_gain": float(np.sqrt(gain_var[k])), "coulomb_friction": float(np.sqrt(fric_var[k])),
                           "winding_sensor_bias": float(np.sqrt(self.actuators.bias.var[k]))},
                confidence=float(min(conf[self.guard.index[f"joint_states:{j}"]],
                                     conf[self.guard.index[f"actuator_health:{j}"]])),
                window_start=float(ws[k]), window_end=float(we[k]), reasons=reasons))
        bws, bwe = maintenance_window(t, fb, self.prog)
        ekf = self.battery.ekf
        battery = ComponentHealth(
            name="battery", health=float(fb.health[0]), rul_q05=float(fb.q05[0]), rul_q50=float(fb.q50[0]),
            rul_q95=float(fb.q95[0]), risk=float(fb.risk[0]), dominant="capacity_fade",
            states={"capacity": float(ekf.capacity[0]), "internal_resistance": float(ekf.resistance[0]),
                    "state_of_charge": float(ekf.soc[0])},
            state_std={"capacity": float(np.sqrt(ekf.capacity_var[0])),
                       "internal_resistance": float(np.sqrt(ekf.P[0, 2, 2]))},
            confidence=float(conf[self.guard.index["battery_state"]]), window_start=float(bws[0]),
            window_end=float(bwe[0]),
            reasons=list(self.guard.reason.get("battery_state", [])))
        bad, why, values = self.check_consistency()
        starts = [c.window_start for c in [*out, battery] if math.isfinite(c.window_start)]
        ends = [c.window_end for c in [*out, battery] if math.isfinite(c.window_start)]
        return RobotReport(t, out, battery, spoofed, min(starts, default=math.nan), min(ends, default=math.nan),
                           sorted({r for rs in self.guard.reason.values() for r in rs}) + why, bad, values)
