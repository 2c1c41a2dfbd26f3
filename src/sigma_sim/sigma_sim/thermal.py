"""Two-node (winding, housing) lumped thermal model of electric motors, vectorised over many motors.

    C_w dT_w/dt = P_cu - (T_w - T_h) / R_wh
    C_h dT_h/dt = (T_w - T_h) / R_wh - (T_h - T_amb) / R_ha

P_cu = I^2 R(T_w) with R(T) = R_0 (1 + alpha (T - T_ref)) (copper). Fitted values for a comparable actuator
(Dephy/Open Source Leg): C_w = 16.3 J/K, R_wh = 1.07 K/W, C_h = 512 J/K, R_ha = 1.94 K/W, alpha = 0.393 %/K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COPPER_ALPHA = 0.00393  # 1/K


@dataclass(frozen=True)
class ThermalParams:
    """Per-motor thermal parameters (arrays of equal length, SI units, temperatures in degC)."""

    c_winding: np.ndarray  # J/K
    c_housing: np.ndarray  # J/K
    r_winding_housing: np.ndarray  # K/W
    r_housing_ambient: np.ndarray  # K/W


class ThermalModel:
    """Integrates winding and housing temperatures of N motors given their heat input."""

    def __init__(self, params: ThermalParams, ambient: float = 25.0) -> None:
        self.params = params
        self.ambient = float(ambient)
        n = len(params.c_winding)
        self.t_winding = np.full(n, self.ambient)
        self.t_housing = np.full(n, self.ambient)
        #: multiplier on R_ha per motor (a cooling failure raises it)
        self.cooling_factor = np.ones(n)

    def step(self, heat: np.ndarray, dt: float) -> None:
        """Advance by ``dt`` seconds with ``heat`` [W] dissipated in each winding (held constant over dt)."""
        p = self.params
        # Explicit Euler, sub-stepped well below the fastest time constant (C_w R_wh is ~10 s here).
        tau_min = float(np.min(p.c_winding * p.r_winding_housing))
        n_sub = max(1, math.ceil(dt / (0.05 * tau_min)))
        h = dt / n_sub
        r_ha = p.r_housing_ambient * self.cooling_factor
        tw, th = self.t_winding, self.t_housing
        for _ in range(n_sub):
            q_wh = (tw - th) / p.r_winding_housing
            q_ha = (th - self.ambient) / r_ha
            tw = tw + h * (heat - q_wh) / p.c_winding
            th = th + h * (q_wh - q_ha) / p.c_housing
        self.t_winding, self.t_housing = tw, th


def winding_resistance(r0: np.ndarray, t_winding: np.ndarray, t_ref: float = 25.0) -> np.ndarray:
    """Copper resistance at the winding temperature."""
    return r0 * (1.0 + COPPER_ALPHA * (t_winding - t_ref))


def step_response(
    c_w: float, c_h: float, r_wh: float, r_ha: float, power: float, t: float, ambient: float = 0.0
) -> tuple[float, float]:
    """Analytic (T_w, T_h) at time ``t`` after a constant ``power`` step from ambient (linear model)."""
    a = np.array([[-1 / (c_w * r_wh), 1 / (c_w * r_wh)], [1 / (c_h * r_wh), -(1 / r_wh + 1 / r_ha) / c_h]])
    b = np.array([power / c_w, 0.0])
    x_ss = -np.linalg.solve(a, b)
    vals, vecs = np.linalg.eig(a)
    coeff = np.linalg.solve(vecs, -x_ss)
    x = x_ss + vecs @ (coeff * np.exp(vals * t))
    return float(x[0].real) + ambient, float(x[1].real) + ambient
