"""The twin's declared parameters: unit, range and text drive the ROS descriptors, validation and docs.

Defaults live in ``src/sigma_twin/config/twin.yaml`` and equal these dataclass defaults (a unit test checks it).
Only datasheet values and operating limits are parameters; every unit's own constants are estimated online.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma_ros_common.params import param, require


@dataclass(frozen=True)
class EstimatorParams:
    """How the online estimators window, forget and trust measurements."""

    window: float = param(10.0, unit="s", low=1.0, high=120.0,
                          description="thermal estimator window: samples are averaged over it before one update")
    housing_windows: int = param(6, low=1, high=60,
                                 description="housing node updates once per this many windows (its dynamics are slow)")
    thermal_memory: float = param(7200.0, unit="s", low=600.0, high=86400.0,
                                  description="effective memory of the thermal RLS (forgetting factor from it)")
    gain_memory: float = param(3600.0, unit="s", low=600.0, high=86400.0,
                               description="effective memory of the second winding RLS behind the trended winding "
                                           "part g (the spoofing test and the reported gain keep thermal_memory)")
    friction_memory: float = param(1800.0, unit="s", low=30.0, high=86400.0,
                                   description="effective memory of the friction RLS")
    rest_current: float = param(0.3, unit="A", low=0.0, high=5.0,
                                description="a motor drawing less than this is at rest (sensor-bias check)")
    rest_settle: float = param(300.0, unit="s", low=30.0, high=3600.0,
                               description="rest this long before winding and housing must agree")
    peak_decay: float = param(2.0, unit="K/h", low=0.0, high=100.0,
                              description="the remembered peak winding rise decays this fast (the recent duty)")
    ambient: float = param(25.0, unit="degC", low=-30.0, high=60.0, description="ambient temperature of the site")
    battery_voltage_std: float = param(0.05, unit="V", low=1e-4, high=5.0,
                                       description="battery voltage measurement noise assumed by the EKF")
    battery_error_time: float = param(4.0, unit="s", low=0.0, high=600.0,
                                      description="the EKF's voltage error is correlated over this long: samples "
                                                  "closer together count as one per this time (the filter's memory "
                                                  "does not depend on the battery_state rate)")
    max_gap: float = param(30.0, unit="s", low=0.5, high=3600.0,
                           description="a longer gap between samples restarts the window instead of bridging it")


@dataclass(frozen=True)
class LimitParams:
    """Datasheet limits: the failure criteria the forecasts predict."""

    max_winding_temperature: float = param(120.0, unit="degC", low=40.0, high=250.0,
                                           description="winding temperature at which the drive trips")
    friction_limit: float = param(6.0, unit="N*m", low=0.1, high=100.0,
                                  description="Coulomb friction at which a bearing counts as worn out")
    rated_capacity: float = param(15.0, unit="Ah", low=0.1, high=1000.0, description="rated battery capacity")
    capacity_eol_share: float = param(0.8, low=0.5, high=0.99,
                                      description="battery end of life below this share of rated capacity")
    bias_tolerance: float = param(5.0, unit="K", low=0.1, high=50.0,
                                  description="a winding temperature sensor off by more needs recalibration")
    thermal_limit_std: float = param(0.04, low=0.0, high=1.0,
                                     description="relative uncertainty of the thermal limits (the value of g or x at "
                                                 "which the duty's peak reaches max_winding_temperature, from the "
                                                 "two-node model calibrated to the observed peak): one limit per draw")


@dataclass(frozen=True)
class PrognosisParams:
    """Trend fitting, Monte Carlo and the maintenance decision."""

    epoch: float = param(600.0, unit="s", low=10.0, high=86400.0,
                         description="a health-feature point is recorded for the trend once per epoch")
    trend_window: float = param(10.0, unit="h", low=0.1, high=500.0,
                                description="the trend is fitted over this much recent history")
    min_history: float = param(2.0, unit="h", low=0.01, high=100.0, description="no forecast with less history")
    samples: int = param(400, low=50, high=20000, description="Monte Carlo samples per forecast")
    horizon: float = param(200.0, unit="h", low=1.0, high=10000.0,
                           description="forecasts look this far ahead; later failures count as beyond it")
    risk_horizon: float = param(8.0, unit="h", low=0.1, high=1000.0,
                                description="risk = P(limit crossed within this time)")
    risk_threshold: float = param(0.2, low=0.0, high=1.0,
                                  description="a maintenance window is planned when the risk reaches this")
    lead_time: float = param(2.0, unit="h", low=0.0, high=1000.0,
                             description="time needed to schedule maintenance before the predicted limit")
    variance_inflation: float = param(1.0, low=0.1, high=1000.0,
                                      description="trend noise variance x this, on top of the estimator's memory "
                                                  "over the epoch (consecutive filter outputs share their noise)")
    noise_floor: float = param(0.01, low=0.0, high=1.0,
                               description="least trend noise, as a share of the feature's scale")
    slope_prior: float = param(0.2, unit="1/h", low=1e-6, high=1e6,
                               description="prior std of the trend slope, in units of the feature's scale per hour")
    curvature_prior: float = param(0.004, unit="1/h^2", low=1e-9, high=1e6,
                                   description="prior std of the trend curvature, feature scale per hour^2")
    evidence_z: float = param(3.0, low=0.0, high=50.0,
                              description="risk (and a maintenance window) only with evidence of degradation: "
                                          "the trend's slope toward the limit this many standard deviations above "
                                          "zero, or the level at the limit (0 = no such test)")
    seed: int = param(0, low=0, high=2**31 - 1, description="seed of the Monte Carlo draws (reproducible forecasts)")
    model: str = param("growth", choices=("growth", "quadratic"),
                       description="trend model: growth = constant until an estimated onset, then monotone growth "
                                   "(core/growth.py); quadratic = the generic Bayesian quadratic over trend_window")
    growth_window: float = param(36.0, unit="h", low=0.1, high=1000.0,
                                 description="growth model: history searched for the onset and fitted")
    onset_prior: float = param(0.5, low=0.001, high=0.999,
                               description="growth model: prior probability that a fault has started in the window")
    lag_share: float = param(1.0, low=0.0, high=3.0,
                             description="growth model: the estimators' output lags wear by this share of their "
                                         "memory; points are placed that much earlier")
    winding_noise_share: float = param(0.25, low=0.0, high=4.0,
                                       description="the winding part g's trend treats its points' noise as "
                                                   "correlated over this share of estimator.gain_memory (variance "
                                                   "x share x gain_memory / epoch, at least 1; round 8, 1 before)")
    cooling_noise_share: float = param(0.25, low=0.0, high=4.0,
                                       description="the cooling part x's trend treats its points' noise as "
                                                   "correlated over this share of estimator.thermal_memory "
                                                   "(variance x share x thermal_memory / epoch, at least 1; "
                                                   "round 9, 1 before)")
    thermal_stretches: bool = param(True, description="round 28: a thermal draw fails in a work stretch of the "
                                                      "learnt rhythm (the winding peaks only while working): in the "
                                                      "first one whose whole-stretch limit its parameter has crossed "
                                                      "by the stretch's end, at the first of the stretch's times whose "
                                                      "own limit it has crossed by then (false: at the crossing of "
                                                      "the whole-stretch limit, the former twin)")
    stretch_limit_shift: float = param(0.05, low=-1.0, high=1.0,
                                       description="with thermal_stretches: the thermal limits stand this much lower "
                                                   "(log; 0.05 = 5 %), the bias of the two-node model's limit "
                                                   "measured on the bench's tuning seed (round 28)")
    bias_correlation_time: float = param(600.0, unit="s", low=0.0, high=86400.0,
                                         description="the sensor-bias trend treats its points' noise as correlated "
                                                     "over this long (variance x time / epoch, at least 1; round 11, "
                                                     "1800 before)")
    capacity_correlation_time: float = param(1800.0, unit="s", low=0.0, high=86400.0,
                                             description="the capacity trend treats its points' noise as correlated "
                                                         "over this long (variance x time / epoch, at least 1; "
                                                         "round 11, 3600 before)")

    def __post_init__(self) -> None:
        require(self.min_history < self.trend_window, "min_history must be shorter than trend_window")
        require(self.risk_horizon <= self.horizon, "risk_horizon must not exceed horizon")


@dataclass(frozen=True)
class SpoofParams:
    """Physics-consistency check of the winding temperature sensor against the twin's prediction."""

    correlation_floor: float = param(0.3, low=0.0, high=1.0,
                                     description="alarm when measured and predicted winding slopes correlate less")
    memory_windows: float = param(120.0, low=2.0, high=10000.0,
                                  description="EWMA memory of the consistency test, in estimator windows")
    min_excitation: float = param(0.05, unit="K/s", low=1e-6, high=10.0,
                                  description="RMS predicted winding slope needed before the test may alarm")
    learn_time: float = param(3600.0, unit="s", low=60.0, high=86400.0,
                              description="the model is learnt for this long before alarms are raised")


@dataclass(frozen=True)
class ConsistencyParams:
    """IMU against odometry, battery voltage against current, and the IMU vibration signature (core/consistency)."""

    imu_window: float = param(1.0, unit="s", low=0.05, high=60.0,
                              description="IMU and odometry are averaged over this window before they are compared")
    memory_windows: float = param(10.0, low=1.0, high=10000.0,
                                  description="EWMA memory of the squared residuals, in windows")
    min_windows: int = param(5, low=1, high=100000,
                             description="windows (battery: sample pairs) before a check may flag")
    yaw_rate_tolerance: float = param(0.15, unit="rad/s", low=0.001, high=10.0,
                                      description="RMS yaw-rate disagreement of IMU and odometry that flags")
    acceleration_tolerance: float = param(1.5, unit="m/s^2", low=0.01, high=100.0,
                                          description="RMS disagreement of IMU forward specific force and the "
                                                      "odometry's change of speed that flags")
    gravity_tolerance: float = param(2.0, unit="m/s^2", low=0.01, high=100.0,
                                     description="RMS deviation of the IMU specific-force magnitude from gravity "
                                                 "that flags")
    r_min: float = param(0.005, unit="ohm", low=0.0, high=10.0,
                         description="least plausible battery internal resistance (voltage must sag under load)")
    r_max: float = param(0.5, unit="ohm", low=0.001, high=100.0,
                         description="largest plausible battery internal resistance")
    min_current_step: float = param(1.0, unit="A", low=0.01, high=1000.0,
                                    description="RMS change of current between battery samples needed to judge")
    battery_memory: float = param(120.0, low=2.0, high=100000.0,
                                  description="EWMA memory of the voltage/current differences, in samples")
    battery_max_gap: float = param(10.0, unit="s", low=0.01, high=3600.0,
                                   description="battery samples further apart are not differenced")
    vibration_samples: int = param(128, low=8, high=65536, description="IMU samples per vibration window")
    vibration_band_low: float = param(20.0, unit="Hz", low=0.0, high=10000.0,
                                      description="lower edge of the vibration band")
    vibration_band_high: float = param(45.0, unit="Hz", low=0.1, high=10000.0,
                                       description="upper edge of the vibration band (capped below Nyquist)")
    vibration_learn_time: float = param(600.0, unit="s", low=1.0, high=864000.0,
                                        description="the healthy vibration level is learnt for this long")
    vibration_z: float = param(6.0, low=0.5, high=100.0,
                               description="alarm when the log band energy is this many learnt spreads above")
    vibration_persist: int = param(3, low=1, high=1000, description="windows in a row above before the alarm")
    confirm_windows: int = param(15, low=1, high=10000,
                                 description="IMU vs odometry is a confirmed inconsistency only when its median "
                                             "residual over this many recent windows exceeds the tolerance (a "
                                             "transient such as a bump never is)")
    confirm_time: float = param(5.0, unit="s", low=0.0, high=3600.0,
                                description="a check flagged this long without a break is a confirmed "
                                            "inconsistency: a safety input (twin/health spoofed_sensors)")
    release_time: float = param(30.0, unit="s", low=0.0, high=86400.0,
                                description="a confirmed inconsistency is released after its check has been "
                                            "clear this long (hysteresis)")

    def __post_init__(self) -> None:
        require(self.r_min < self.r_max, "r_min must be below r_max")
        require(self.vibration_band_low < self.vibration_band_high, "vibration band: low must be below high")


@dataclass(frozen=True)
class NodeParams:
    """Rates of the node shell (joints are a plain string-array parameter: empty = every joint of the URDF)."""

    publish_rate: float = param(1.0, unit="Hz", low=0.1, high=50.0, description="twin/health and diagnostics rate")
    joint_states_rate: float = param(10.0, unit="Hz", low=0.1, high=1000.0,
                                     description="joint_states are used at most this often (friction needs no more)")
    forecast_period: float = param(10.0, unit="s", low=0.1, high=3600.0,
                                   description="the Monte Carlo forecast is refreshed this often; reports in between "
                                               "repeat it")
    raw_sensors: bool = param(True, description="imu, odom and joint_states taken serialized and read in batches "
                                                "once per report (false: one Python message per sample, the "
                                                "former path, kept for the CPU bench's comparison)")
