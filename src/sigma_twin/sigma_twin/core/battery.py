"""Battery state of charge, capacity (fade) and internal resistance by an extended Kalman filter, vectorised.

State per pack ``x = [soc, Q (Ah), R (ohm)]``; discharge current ``I`` (positive out) and terminal voltage ``V``:

    soc' = soc - I dt / (3600 Q)        V = OCV(soc) - I R

``OCV`` is the pack chemistry's open-circuit-voltage curve (a datasheet property, the same for every unit of a
model); capacity and resistance of each unit are estimated. Q and R follow slow random walks so the filter tracks
fade. Only voltage and current are read: a BMS's own charge/capacity fields are not trusted.
"""

from __future__ import annotations

import numpy as np

from sigma_twin.core import data_time

# 14S Li-ion pack (datasheet): state of charge -> open-circuit voltage [V]
SOC_POINTS = np.array([0.0, 0.05, 0.10, 0.20, 0.40, 0.60, 0.80, 0.90, 1.0])
OCV_POINTS = 14 * np.array([3.00, 3.30, 3.45, 3.55, 3.68, 3.80, 3.95, 4.05, 4.18])
_SLOPES = np.diff(OCV_POINTS) / np.diff(SOC_POINTS)


def ocv(soc: np.ndarray) -> np.ndarray:
    """Open-circuit voltage of the pack at ``soc``."""
    return np.interp(np.clip(soc, 0.0, 1.0), SOC_POINTS, OCV_POINTS)


def ocv_slope(soc: np.ndarray) -> np.ndarray:
    """dOCV/dsoc [V per unit soc]."""
    k = np.clip(np.searchsorted(SOC_POINTS, np.clip(soc, 0.0, 1.0), side="right") - 1, 0, len(_SLOPES) - 1)
    return _SLOPES[k]


def soc_from_voltage(v: np.ndarray) -> np.ndarray:
    """Inverse of ``ocv`` (monotonic curve)."""
    return np.interp(v, OCV_POINTS, SOC_POINTS)


class BatteryEKF:
    """``n`` packs. ``capacity``/``capacity_var`` [Ah, Ah^2], ``resistance`` [ohm], ``soc``."""

    def __init__(self, n: int, rated_capacity: float, voltage_std: float, resistance0: float = 0.1,
                 error_time: float = 0.0) -> None:
        self.n = n
        self.x = np.zeros((n, 3))
        self.x[:, 1] = rated_capacity
        self.x[:, 2] = resistance0
        self.P = np.tile(np.diag([0.05, (0.15 * rated_capacity) ** 2, 0.05 ** 2]), (n, 1, 1))
        self.r_meas = voltage_std ** 2
        # round 27: the voltage model's error (polarisation, hysteresis, the OCV curve's own error) is correlated over
        # ``error_time``; samples closer together share it, so each counts voltage_std^2 x error_time / dt: one
        # sample's information per error_time whatever the driver's rate, and the filter's memory with it
        self.error_time = error_time
        self.q_capacity = (0.02 * rated_capacity) ** 2 / 3600.0  # Ah^2 per s: lets it follow fade
        self.q_resistance = (0.01) ** 2 / 3600.0
        self.t_last = np.full(n, np.nan)
        self.started = np.zeros(n, dtype=bool)
        self.updates = np.zeros(n, dtype=int)
        self.t_start = np.full(n, np.nan)
        # the time the capacity estimate stands for (round 6): each update moves it toward now by the share of the
        # capacity's variance that update removed (for a random-walk state that share is the Kalman gain, i.e. the
        # weight of the new data in an exponentially weighted mean); the trend places its points there
        self.t_data = np.full(n, np.nan)

    def add(self, t: float, voltage: np.ndarray, current: np.ndarray, valid: np.ndarray) -> None:
        """One sample per pack; the first valid one initialises the state of charge from the voltage."""
        new = valid & ~self.started
        if new.any():
            self.x[new, 0] = soc_from_voltage(voltage[new] + current[new] * self.x[new, 2])
            self.started |= new
            self.t_start[new] = t
            self.t_last[new] = t
        rows = valid & self.started & ~new
        if not rows.any():
            return
        dt = np.where(rows, np.clip(t - self.t_last, 0.0, 60.0), 0.0)
        cur = np.where(rows, current, 0.0)
        soc, cap = self.x[:, 0], self.x[:, 1]
        # predict
        f = np.tile(np.eye(3), (self.n, 1, 1))
        f[:, 0, 1] = cur * dt / (3600.0 * cap * cap)
        self.x[:, 0] = np.where(rows, soc - cur * dt / (3600.0 * cap), soc)
        q = np.zeros((self.n, 3, 3))
        q[:, 0, 0] = (0.05 * dt / (3600.0 * cap)) ** 2 + 1e-10
        q[:, 1, 1] = self.q_capacity * dt
        q[:, 2, 2] = self.q_resistance * dt
        p = np.einsum("nij,njk,nlk->nil", f, self.P, f) + q
        # update with the terminal voltage
        h = np.stack([ocv_slope(self.x[:, 0]), np.zeros(self.n), -cur], axis=1)
        innov = voltage - (ocv(self.x[:, 0]) - cur * self.x[:, 2])
        ph = np.einsum("nij,nj->ni", p, h)
        s = np.einsum("ni,ni->n", h, ph) + self.r_meas * np.maximum(1.0, self.error_time / np.maximum(dt, 1e-3))
        gain = ph / s[:, None]
        ok = rows & np.isfinite(innov)
        self.x[ok] += gain[ok] * innov[ok, None]
        p_new = p - np.einsum("ni,nj->nij", gain, ph)
        share = np.clip(1.0 - p_new[:, 1, 1] / np.maximum(p[:, 1, 1], 1e-300), 0.0, 1.0)
        self.t_data = data_time.advance(self.t_data, t, share, ok)
        self.P = np.where(ok[:, None, None], 0.5 * (p_new + np.swapaxes(p_new, 1, 2)), np.where(
            rows[:, None, None], p, self.P))
        self.x[:, 0] = np.clip(self.x[:, 0], 0.0, 1.0)
        self.x[:, 1] = np.maximum(self.x[:, 1], 0.05)
        self.x[:, 2] = np.maximum(self.x[:, 2], 0.0)
        self.t_last = np.where(rows, t, self.t_last)
        self.updates += ok

    @property
    def soc(self) -> np.ndarray:
        return self.x[:, 0]

    @property
    def capacity(self) -> np.ndarray:
        return self.x[:, 1]

    @property
    def capacity_var(self) -> np.ndarray:
        return self.P[:, 1, 1]

    @property
    def resistance(self) -> np.ndarray:
        return self.x[:, 2]
