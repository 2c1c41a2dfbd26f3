"""Unpaced reduced-order wear model: many robots' hours of duty cycles in seconds, with the ground truth kept apart.

Each row is one robot: one monitored actuator (the datasheet of the "large" class: hips and knees) driving a payload
through a repeating duty cycle, and its battery, which the robot recharges at a dock when it runs low. The same
two-node thermal model and copper law as the MuJoCo world (``sigma_sim.thermal``), the same open-circuit-voltage curve
(``sigma_sim.battery``), each robot with its own hidden manufacturing spread and optional slow degradation
(``sigma_sim.degradation``). Pure: no ROS, no MuJoCo, no clock; ``step`` advances all rows by ``dt``.

``Measurement`` is what a driver would publish (noisy, biased or spoofed sensors); ``Truth`` is what only the bench
may read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sigma_sim.battery import OCV_POINTS, SOC_POINTS
from sigma_sim.degradation import Degradation, Spread, levels, sample_spread
from sigma_sim.thermal import COPPER_ALPHA, ThermalModel, ThermalParams


@dataclass(frozen=True)
class WearConfig:
    """Datasheet values and the duty cycle (SI units, temperatures in degC)."""

    dt: float = 2.0  # s between samples
    ambient: float = 25.0
    torque_per_amp: float = 2.4  # N*m/A at the joint (0.16 N*m/A x 15:1)
    r0: float = 0.12  # ohm at 25 degC
    c_winding: float = 40.0
    c_housing: float = 900.0
    r_winding_housing: float = 0.8
    r_housing_ambient: float = 1.2
    max_winding_temperature: float = 120.0
    coulomb_friction: float = 1.5  # N*m
    viscous_friction: float = 0.5  # N*m*s/rad
    friction_limit: float = 6.0  # N*m of Coulomb friction: bearing worn out (the wear limit)
    payload_torque: tuple[float, float] = (35.0, 50.0)  # N*m gravity torque amplitude, drawn per robot
    cycle_period: float = 60.0  # s
    active_share: float = 0.65
    motion_period: float = 7.3  # s of one swing
    rated_capacity_ah: float = 15.0
    capacity_eol_share: float = 0.8  # end of life below this share of the rated capacity
    internal_resistance: float = 0.08
    idle_power: float = 150.0  # W, electronics
    work_power: float = 250.0  # W, the other joints while active
    charge_power: float = 400.0  # W from the dock
    dock_below_soc: float = 0.2
    undock_above_soc: float = 0.95
    bias_tolerance: float = 5.0  # K: a winding sensor off by more needs recalibration
    noise_temperature: float = 0.25  # K
    noise_effort: float = 0.3  # N*m
    noise_current: float = 0.05  # A
    noise_voltage: float = 0.02  # V
    noise_battery_current: float = 0.05  # A
    spread: float = 0.10


@dataclass
class Measurement:
    """One sample per robot, as the drivers publish it (arrays over robots)."""

    t: float
    position: np.ndarray  # rad
    velocity: np.ndarray  # rad/s
    effort: np.ndarray  # N*m
    current: np.ndarray  # A (motor)
    t_winding: np.ndarray  # degC (sensor: may be biased or spoofed)
    t_housing: np.ndarray  # degC
    voltage: np.ndarray  # V battery terminal
    battery_current: np.ndarray  # A, positive = discharging


@dataclass
class Truth:
    """Hidden states and the failure times they imply (bench only)."""

    t_winding: np.ndarray
    r0: np.ndarray
    r_housing_ambient: np.ndarray
    coulomb_friction: np.ndarray
    capacity_ah: np.ndarray
    soc: np.ndarray
    sensor_bias: np.ndarray
    #: first time [s] the failure criterion of the row's kind held (inf while it has not)
    failure_time: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _ocv(soc: np.ndarray) -> np.ndarray:
    return np.interp(np.clip(soc, 0.0, 1.0), SOC_POINTS, OCV_POINTS)


class WearSimulator:
    """N robots, each optionally with one degradation (``None`` = healthy). Seeded: same seed, same run."""

    def __init__(self, degradations: list[Degradation | None], seed: int, cfg: WearConfig | None = None) -> None:
        self.cfg = cfg = cfg or WearConfig()
        n = self.n = len(degradations)
        self.rng = np.random.default_rng(seed)
        spreads = [sample_spread(self.rng, 1, cfg.spread) for _ in range(n)]

        def col(name: str) -> np.ndarray:
            return np.array([float(getattr(s, name)[0]) for s in spreads])

        self.spread: list[Spread] = spreads
        self.thermal = ThermalModel(
            ThermalParams(cfg.c_winding * col("c_winding"), cfg.c_housing * col("c_housing"),
                          cfg.r_winding_housing * col("r_winding_housing"),
                          cfg.r_housing_ambient * col("r_housing_ambient")), cfg.ambient)
        self.r0_base = cfg.r0 * col("winding_resistance")
        self.friction_base = col("friction")
        self.capacity_base = cfg.rated_capacity_ah * np.array([s.capacity for s in spreads])
        self.r_int = cfg.internal_resistance * np.array([s.internal_resistance for s in spreads])
        self.payload = self.rng.uniform(*cfg.payload_torque, n)
        self.phase = self.rng.uniform(0.0, cfg.cycle_period, n)
        self.soc = self.rng.uniform(0.6, 1.0, n)
        self.docked = np.zeros(n, dtype=bool)
        kinds = [d.kind if d else "" for d in degradations]
        self.kinds = np.array(kinds)
        self.onset = np.array([d.onset if d else math.inf for d in degradations])
        self.rate = np.array([d.rate if d else 0.0 for d in degradations])
        self.accel = np.array([d.accel if d else 0.0 for d in degradations])
        self.t = 0.0
        self.frozen_reading = np.full(n, np.nan)
        self.failure_time = np.full(n, math.inf)
        self._spoof = self.kinds == "spoofed_temperature"
        self.truth = self._truth(np.zeros(n))

    def _level(self, kind: str) -> np.ndarray:
        return np.where(self.kinds == kind, levels(self.t, self.onset, self.rate, self.accel), 0.0)

    def step(self) -> Measurement:
        """Advance every robot by ``cfg.dt`` and return the sensors' sample at the new time."""
        cfg, n, rng, dt = self.cfg, self.n, self.rng, self.cfg.dt
        self.t += dt
        t = self.t
        cool, wind, fric = self._level("cooling_loss"), self._level("winding_drift"), self._level("friction_growth")
        fade, bias = self._level("capacity_fade"), self._level("temp_bias_drift")
        self.thermal.cooling_factor = 1.0 + cool
        r0 = self.r0_base * (1.0 + wind)
        f_mult = self.friction_base * (1.0 + fric)
        capacity = self.capacity_base * (1.0 - np.minimum(fade, 0.99))

        # Duty cycle: swing the payload while active; hold it lightly while idle; nothing while docked.
        cyc = (t + self.phase) % cfg.cycle_period
        active = (cyc < cfg.active_share * cfg.cycle_period) & ~self.docked
        w = 2 * math.pi / cfg.motion_period
        q = np.where(active, 0.6 + 0.4 * np.sin(w * (t + self.phase)), 0.6)
        omega = np.where(active, 0.4 * w * np.cos(w * (t + self.phase)), 0.0)
        gravity = np.where(active, self.payload, 0.3 * self.payload) * np.cos(q)
        friction = f_mult * (cfg.coulomb_friction * np.sign(omega) + cfg.viscous_friction * omega)
        tau = np.where(self.docked, 0.0, gravity + friction + rng.normal(0.0, 0.5, n) * active)
        current = np.abs(tau) / cfg.torque_per_amp
        r_hot = r0 * (1.0 + COPPER_ALPHA * (self.thermal.t_winding - 25.0))
        heat = current * current * r_hot
        self.thermal.step(heat, dt)

        # Battery: electronics + the other joints while active + this motor; the dock charges.
        p_motor = np.maximum(tau * omega, 0.0) + heat
        power = cfg.idle_power + cfg.work_power * active + p_motor - cfg.charge_power * self.docked
        ocv = _ocv(self.soc)
        disc = np.maximum(ocv * ocv - 4.0 * self.r_int * power, 0.0)
        i_bat = (ocv - np.sqrt(disc)) / (2.0 * self.r_int)
        v_term = ocv - i_bat * self.r_int
        self.soc = np.clip(self.soc - i_bat * dt / (capacity * 3600.0), 0.0, 1.0)
        self.docked = np.where(self.docked, self.soc < cfg.undock_above_soc, self.soc < cfg.dock_below_soc)

        # Sensors.
        tw_true = self.thermal.t_winding
        tw_meas = tw_true + bias + rng.normal(0.0, cfg.noise_temperature, n)
        started = self._spoof & (t >= self.onset)
        newly = started & np.isnan(self.frozen_reading)
        self.frozen_reading[newly] = tw_meas[newly]
        tw_meas = np.where(started, self.frozen_reading, tw_meas)
        meas = Measurement(
            t=t, position=q + rng.normal(0.0, 1e-4, n), velocity=omega + rng.normal(0.0, 1e-3, n),
            effort=tau + rng.normal(0.0, cfg.noise_effort, n),
            current=current + rng.normal(0.0, cfg.noise_current, n), t_winding=tw_meas,
            t_housing=self.thermal.t_housing + rng.normal(0.0, cfg.noise_temperature, n),
            voltage=v_term + rng.normal(0.0, cfg.noise_voltage, n),
            battery_current=i_bat + rng.normal(0.0, cfg.noise_battery_current, n),
        )
        self.truth = self._truth(bias, r0=r0, friction=f_mult * cfg.coulomb_friction, capacity=capacity)
        self._record_failures()
        return meas

    def _truth(self, bias: np.ndarray, r0: np.ndarray | None = None, friction: np.ndarray | None = None,
               capacity: np.ndarray | None = None) -> Truth:
        cfg = self.cfg
        return Truth(
            t_winding=self.thermal.t_winding.copy(),
            r0=self.r0_base.copy() if r0 is None else r0,
            r_housing_ambient=self.thermal.params.r_housing_ambient * self.thermal.cooling_factor,
            coulomb_friction=self.friction_base * cfg.coulomb_friction if friction is None else friction,
            capacity_ah=self.capacity_base.copy() if capacity is None else capacity,
            soc=self.soc.copy(), sensor_bias=bias, failure_time=self.failure_time,
        )

    def _record_failures(self) -> None:
        """Failure criteria: thermal kinds when the winding truly passes its limit; friction at the wear limit;
        capacity below the end-of-life share of rated; a sensor bias past tolerance; a spoof from its onset."""
        cfg, tr, k = self.cfg, self.truth, self.kinds
        thermal = np.isin(k, ("cooling_loss", "winding_drift")) & (tr.t_winding > cfg.max_winding_temperature)
        failed = (
            thermal
            | ((k == "friction_growth") & (tr.coulomb_friction >= cfg.friction_limit))
            | ((k == "capacity_fade") & (tr.capacity_ah < cfg.capacity_eol_share * cfg.rated_capacity_ah))
            | ((k == "temp_bias_drift") & (np.abs(tr.sensor_bias) >= cfg.bias_tolerance))
            | (self._spoof & (self.t >= self.onset))
        )
        new = failed & np.isinf(self.failure_time)
        self.failure_time[new] = self.t


def level_to_fail(kind: str, cfg: WearConfig) -> float:
    """Typical degradation level at the failure criterion (to size seeded random rates; the truth is simulated)."""
    return {
        "cooling_loss": 3.5,
        "winding_drift": 1.8,
        "friction_growth": cfg.friction_limit / cfg.coulomb_friction - 1.0,
        "capacity_fade": 1.0 - cfg.capacity_eol_share,
        "temp_bias_drift": cfg.bias_tolerance,
        "spoofed_temperature": 0.0,
    }[kind]
