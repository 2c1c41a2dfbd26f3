"""Physics-consistency checks between sensors (§9 spoofing) and a vibration signature, pure and time passed in.

- ``ImuOdometryCheck``: the IMU's yaw rate must agree with the odometry's, its forward specific force with the rate of
  change of the odometry's forward speed, and its specific force must carry gravity (a robot on the ground is not in
  free fall). Samples are averaged over ``imu_window`` (walking sway and vibration average out); each window's
  residuals feed exponentially weighted mean squares over ``memory_windows``; a check flags when its RMS residual
  exceeds its tolerance. A disagreement says that one of the two sensors lies, not which one.
- ``BatteryConsistency``: the terminal voltage must follow the current draw as an internal resistance does,
  ``dV = -R dI`` between successive samples (the open-circuit voltage moves far slower than a load step). The
  resistance seen by the differences, ``R = -cov(dV, dI) / var(dI)``, must lie in ``[r_min, r_max]`` once the current
  has varied enough (``min_current_step``). A frozen or replayed voltage reads R = 0; a voltage that ignores load reads
  R = 0; a pack whose resistance rose past ``r_max`` is flagged too (a real fault, named as such).
- ``VibrationMonitor``: per window of IMU acceleration, the energy in a frequency band (Hann-windowed FFT) and the
  kurtosis; the log band energy's healthy mean and spread are learnt for ``learn_time``, afterwards a window more than
  ``vibration_z`` spreads above for ``persist`` windows in a row flags a vibration (a bearing or gear defect rings in
  that band; impacts raise the kurtosis).

Functions ``band_energy`` and ``kurtosis`` are the signal features, usable on their own.
"""

from __future__ import annotations

import math

import numpy as np

from sigma_twin.core.params import ConsistencyParams

GRAVITY = 9.80665


def band_energy(x: np.ndarray, rate: float, low: float, high: float) -> float:
    """Mean-square value of ``x`` in the band [low, high] Hz (Hann window, one-sided spectrum, Parseval scaled).

    The window's mean is removed first. A sinusoid of amplitude A inside the band gives ~A^2/2."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 4 or not rate > 0:
        return math.nan
    w = np.hanning(n)
    spec = np.fft.rfft((x - x.mean()) * w)
    freq = np.fft.rfftfreq(n, 1.0 / rate)
    power = np.abs(spec) ** 2 / (w * w).sum() / n  # per bin, sums to the mean square
    power[1:-1 if n % 2 == 0 else None] *= 2.0  # one-sided
    band = (freq >= low) & (freq <= high)
    return float(power[band].sum())


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis (3 for Gaussian noise, higher for impacts); NaN for a flat or too short signal."""
    x = np.asarray(x, dtype=float)
    if x.size < 4:
        return math.nan
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d ** 4) / (m2 * m2)) if m2 > 0 else math.nan


def internal_resistance(dv: np.ndarray, di: np.ndarray) -> float:
    """Least-squares resistance ``-sum(dv di) / sum(di^2)`` of voltage and current differences [ohm]."""
    dv, di = np.asarray(dv, dtype=float), np.asarray(di, dtype=float)
    den = float(np.sum(di * di))
    return -float(np.sum(dv * di)) / den if den > 0 else math.nan


class ImuOdometryCheck:
    """IMU against odometry: yaw rate, forward acceleration, gravity. Flags when an RMS residual is too large.

    Samples fall into windows of ``imu_window`` on a fixed grid from the first stamp; a window is judged once both
    streams have moved past it (or one stream is two windows ahead: the other is silent), so batches of either
    stream may arrive in any order and size (twin_node hands over one batch per report)."""

    CHECKS = ("yaw_rate", "forward_acceleration", "gravity")

    def __init__(self, params: ConsistencyParams | None = None) -> None:
        self.p = params or ConsistencyParams()
        self.t0 = math.nan
        self.pending: dict[int, np.ndarray] = {}  # window -> sums: gyro z, acc x, |acc|, n imu, speed, yaw, n odom
        self.latest = {"imu": -1, "odom": -1}  # newest window seen per stream
        self.closed = -1  # windows up to this one are judged; later samples for them are too late
        self.prev: tuple[int, float] | None = None  # (window, mean speed) of the last judged window
        self.ms = dict.fromkeys(self.CHECKS, 0.0)  # exponentially weighted mean squares of the residuals
        self.windows = 0
        self.flags: dict[str, bool] = dict.fromkeys(self.CHECKS, False)
        self.recent = np.full((self.p.confirm_windows, len(self.CHECKS)), np.nan)  # |residual| / tolerance
        self.tol = np.array([self.p.yaw_rate_tolerance, self.p.acceleration_tolerance, self.p.gravity_tolerance])

    def add_imu(self, t: float, gyro: np.ndarray, accel: np.ndarray) -> None:
        """One IMU sample: angular velocity [rad/s] and specific force [m/s^2] in the body frame."""
        self.add_imu_batch(np.array([t]), np.asarray(gyro, dtype=float).reshape(1, 3),
                           np.asarray(accel, dtype=float).reshape(1, 3))

    def add_odom(self, t: float, speed: float, yaw_rate: float) -> None:
        """One odometry sample: forward speed [m/s] and yaw rate [rad/s] in the body frame."""
        self.add_odom_batch(np.array([t]), np.array([speed]), np.array([yaw_rate]))

    def add_imu_batch(self, t: np.ndarray, gyro: np.ndarray, accel: np.ndarray, settle: bool = True) -> None:
        """IMU samples: stamps (n,), angular velocity (n, 3), specific force (n, 3). ``settle=False`` when the
        other stream's batch of the same period follows (windows are judged only after it)."""
        if len(t):
            cols = np.column_stack([gyro[:, 2], accel[:, 0], np.linalg.norm(accel, axis=1)])
            self._add("imu", np.asarray(t, dtype=float), cols, 0)
        if settle:
            self._close()

    def add_odom_batch(self, t: np.ndarray, speed: np.ndarray, yaw_rate: np.ndarray, settle: bool = True) -> None:
        """Odometry samples: stamps (n,), forward speed (n,), yaw rate (n,); ``settle`` as for the IMU."""
        if len(t):
            self._add("odom", np.asarray(t, dtype=float), np.column_stack([speed, yaw_rate]), 4)
        if settle:
            self._close()

    def _add(self, stream: str, t: np.ndarray, cols: np.ndarray, at: int) -> None:
        if math.isnan(self.t0):
            self.t0 = float(t[0])
        k = np.floor((t - self.t0) / self.p.imu_window).astype(np.int64)
        keep = k > self.closed
        k, cols = k[keep], cols[keep]
        if k.size == 0:
            return
        width = cols.shape[1]
        for w in np.unique(k):
            sel = k == w
            acc = self.pending.setdefault(int(w), np.zeros(7))
            acc[at:at + width] += cols[sel].sum(axis=0)
            acc[at + width] += sel.sum()
        self.latest[stream] = max(self.latest[stream], int(k.max()))

    def _close(self) -> None:
        both = min(self.latest.values())
        ahead = max(self.latest.values()) - 2
        upto = max(both - 1, ahead)
        for w in sorted(k for k in self.pending if k <= upto):
            self._judge(w, self.pending.pop(w))
        self.closed = max(self.closed, upto)

    def _judge(self, w: int, s: np.ndarray) -> None:
        if s[3] == 0 or s[6] == 0:  # one stream silent: nothing to compare (the watchdogs see silence)
            self.prev = None
            return
        gyro_z, acc_x, acc_norm = s[0:3] / s[3]
        speed, yaw = s[4:6] / s[6]
        prev = self.prev
        gap = w - prev[0] if prev is not None else 0
        accel_pred = (speed - prev[1]) / (gap * self.p.imu_window) if prev is not None and 0 < gap < 3 else acc_x
        self.prev = (w, speed)
        res = {"yaw_rate": gyro_z - yaw, "forward_acceleration": acc_x - accel_pred,
               "gravity": acc_norm - GRAVITY}
        k = 1.0 / min(self.windows + 1.0, self.p.memory_windows)
        for c in self.CHECKS:
            self.ms[c] += k * (res[c] ** 2 - self.ms[c])
        self.windows += 1
        tol = {"yaw_rate": self.p.yaw_rate_tolerance, "forward_acceleration": self.p.acceleration_tolerance,
               "gravity": self.p.gravity_tolerance}
        ready = self.windows >= self.p.min_windows
        self.flags = {c: ready and math.sqrt(self.ms[c]) > tol[c] for c in self.CHECKS}
        self.recent[self.windows % len(self.recent)] = np.abs([res[c] for c in self.CHECKS]) / self.tol

    def persistent(self) -> list[str]:
        """Checks whose median |residual| over the last ``confirm_windows`` windows exceeds the tolerance: a
        contradiction that holds in most windows (a spoofed or failed sensor), not a transient such as a bump,
        which lifts the mean square for a while but not the median."""
        if self.windows < len(self.recent):
            return []
        med = np.median(self.recent, axis=0)
        return [c for c, m in zip(self.CHECKS, med, strict=True) if m > 1.0]

    def rms(self) -> dict[str, float]:
        """Current RMS residual per check."""
        return {c: math.sqrt(v) for c, v in self.ms.items()}

    def flagged(self) -> list[str]:
        """The checks that disagree now."""
        return [c for c, f in self.flags.items() if f]


class BatteryConsistency:
    """Voltage against current draw through an internal resistance in a plausible range."""

    def __init__(self, params: ConsistencyParams | None = None) -> None:
        self.p = params or ConsistencyParams()
        self.prev: tuple[float, float, float] | None = None
        self.s_vi = 0.0
        self.s_ii = 0.0
        self.n = 0
        self.flag = False
        self.resistance = math.nan

    def add(self, t: float, voltage: float, current: float) -> None:
        """One sample: terminal voltage [V], current [A, positive = discharging]."""
        if self.prev is not None and 0.0 < t - self.prev[0] <= self.p.battery_max_gap:
            dv, di = voltage - self.prev[1], current - self.prev[2]
            k = 1.0 / min(self.n + 1.0, self.p.battery_memory)
            self.s_vi += k * (dv * di - self.s_vi)
            self.s_ii += k * (di * di - self.s_ii)
            self.n += 1
        self.prev = (t, voltage, current)
        excited = self.n >= self.p.min_windows and self.s_ii >= self.p.min_current_step ** 2
        self.resistance = -self.s_vi / self.s_ii if self.s_ii > 0 else math.nan
        self.flag = bool(excited and not (self.p.r_min <= self.resistance <= self.p.r_max))

    def reason(self) -> str:
        if not self.flag:
            return ""
        if self.resistance < self.p.r_min:
            return (f"battery voltage does not follow the current draw (apparent internal resistance "
                    f"{self.resistance * 1000:.1f} mohm < {self.p.r_min * 1000:.1f})")
        return (f"battery internal resistance {self.resistance * 1000:.0f} mohm above {self.p.r_max * 1000:.0f} "
                f"(sagging pack or wrong current sensor)")


class VibrationMonitor:
    """Band energy and kurtosis of the IMU acceleration per window; alarm on a sustained rise over the learnt level."""

    def __init__(self, params: ConsistencyParams | None = None) -> None:
        self.p = params or ConsistencyParams()
        self.buf: list[np.ndarray] = []  # chunks of samples not yet in a full window
        self.buf_t: list[np.ndarray] = []
        self.buffered = 0
        self.mean = 0.0
        self.var = 0.0
        self.learnt = 0
        self.t_start = math.nan
        self.above = 0
        self.flag = False
        self.energy = math.nan
        self.kurt = math.nan
        self.z = math.nan
        self.gapped = 0  # windows skipped because samples were missing (not evenly spaced)

    def add(self, t: float, accel: np.ndarray) -> None:
        """One IMU specific-force sample [m/s^2]; the vertical axis (z) is analysed."""
        self.add_batch(np.array([t]), np.array([float(accel[2])]))

    def add_batch(self, t: np.ndarray, accel_z: np.ndarray) -> None:
        """IMU samples: stamps (n,) and vertical specific force (n,) [m/s^2], in time order."""
        if len(t) == 0:
            return
        if math.isnan(self.t_start):
            self.t_start = float(t[0])
        self.buf_t.append(np.asarray(t, dtype=float))
        self.buf.append(np.asarray(accel_z, dtype=float))
        self.buffered += len(t)
        if self.buffered < self.p.vibration_samples:
            return
        ts, xs = np.concatenate(self.buf_t), np.concatenate(self.buf)
        n = self.p.vibration_samples
        full = len(ts) // n * n
        for i in range(0, full, n):
            self._window(ts[i:i + n], xs[i:i + n])
        self.buf_t, self.buf = [ts[full:]], [xs[full:]]
        self.buffered = len(ts) - full

    def _window(self, t: np.ndarray, x: np.ndarray) -> None:
        span = float(t[-1] - t[0])
        if span <= 0:
            return
        dt = np.diff(t)
        if float(dt.max()) > 1.5 * float(np.median(dt)):  # lost samples: the spectrum of a window with holes
            self.gapped += 1  # aliases (a tone leaves its band), so such a window is not judged
            return
        rate = (x.size - 1) / span
        e = band_energy(x, rate, self.p.vibration_band_low, min(self.p.vibration_band_high, 0.49 * rate))
        self.kurt = kurtosis(x)
        if not (math.isfinite(e) and e >= 0):
            return
        self.energy = e
        le = math.log(e + 1e-12)
        learning = float(t[-1]) - self.t_start < self.p.vibration_learn_time
        if learning:
            self.learnt += 1
            d = le - self.mean
            self.mean += d / self.learnt
            self.var += (d * (le - self.mean) - self.var) / self.learnt
            return
        self.z = (le - self.mean) / math.sqrt(max(self.var, 1e-4))
        self.above = self.above + 1 if self.z >= self.p.vibration_z else 0
        self.flag = self.above >= self.p.vibration_persist

    def reason(self) -> str:
        return (f"IMU vibration in {self.p.vibration_band_low:g}-{self.p.vibration_band_high:g} Hz "
                f"{self.z:.1f} spreads above its learnt level (kurtosis {self.kurt:.1f}): bearing/joint wear?"
                if self.flag else "")


class Confirmation:
    """Hysteresis over named boolean checks, in data time: a check flagged for ``confirm_time`` without a break is
    confirmed; a confirmed one is released only after it has been clear for ``release_time``. A check that flickers
    (healthy noise crossing its tolerance now and then) never stays flagged long enough to be confirmed."""

    def __init__(self, confirm_time: float, release_time: float) -> None:
        self.confirm_time, self.release_time = confirm_time, release_time
        self.flagged_since: dict[str, float] = {}
        self.clear_since: dict[str, float] = {}
        self.confirmed: dict[str, float] = {}  # name -> when it was confirmed

    def update(self, t: float, flags: dict[str, bool]) -> list[str]:
        """Feed the checks' current flags at data time ``t``; returns the confirmed names (sorted)."""
        for name, flag in flags.items():
            if flag:
                self.clear_since.pop(name, None)
                since = self.flagged_since.setdefault(name, t)
                if name not in self.confirmed and t - since >= self.confirm_time:
                    self.confirmed[name] = t
            else:
                self.flagged_since.pop(name, None)
                since = self.clear_since.setdefault(name, t)
                if name in self.confirmed and t - since >= self.release_time:
                    del self.confirmed[name]
        return sorted(self.confirmed)
