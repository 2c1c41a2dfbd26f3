"""Prognostics metrics (Saxena et al.; as NASA ProgPy defines them), on time-of-event draws.

A *profile* is the list of forecasts one run produced: prediction times ``t_p`` and, per prediction, draws of the
time of event (ToE, absolute). ``alpha_lambda`` follows ``progpy.metrics.alpha_lambda``: at the first prediction at or
after the lambda time, the share of ToE draws inside ``[gt - alpha (gt - t_p), gt + alpha (gt - t_p)]`` must reach
``beta``. The prognostic horizon follows ``progpy.metrics.prognostic_horizon`` with that same criterion.
"""

from __future__ import annotations

import math

import numpy as np


def in_bounds_share(toe: np.ndarray, gt: float, t_p: float, alpha: float) -> float:
    """Share of ToE draws within alpha of the true remaining time (non-finite draws count as outside)."""
    lo, hi = gt - alpha * (gt - t_p), gt + alpha * (gt - t_p)
    toe = np.asarray(toe, dtype=float)
    return float(np.mean((toe >= lo) & (toe <= hi))) if toe.size else 0.0


def alpha_lambda(times: list[float], toes: list[np.ndarray], gt: float, lambda_time: float, alpha: float = 0.2,
                 beta: float = 0.5) -> bool | None:
    """Alpha-lambda met at the first prediction at or after ``lambda_time`` (None when no prediction is)."""
    for t_p, toe in zip(times, toes, strict=True):
        if t_p >= lambda_time:
            return in_bounds_share(toe, gt, t_p, alpha) >= beta
    return None


def prognostic_horizon(times: list[float], toes: list[np.ndarray], gt: float, alpha: float = 0.2,
                       beta: float = 0.5) -> float | None:
    """ToE minus the first prediction time that met the alpha criterion (None when none did before the event)."""
    for t_p, toe in zip(times, toes, strict=True):
        if t_p < gt and in_bounds_share(toe, gt, t_p, alpha) >= beta:
            return gt - t_p
    return None


def interval_coverage(lo: np.ndarray, hi: np.ndarray, truth: np.ndarray) -> float:
    """Share of predictions whose [lo, hi] interval contains the truth (NaN predictions skipped)."""
    lo, hi, truth = (np.asarray(a, dtype=float) for a in (lo, hi, truth))
    ok = ~(np.isnan(lo) | np.isnan(hi))
    return float(np.mean((lo[ok] <= truth[ok]) & (truth[ok] <= hi[ok]))) if ok.any() else math.nan


def rmse(pred: np.ndarray, truth: np.ndarray, cap: float) -> float:
    """Root mean square error with predictions (inf = "not within the horizon") capped at ``cap``."""
    pred = np.minimum(np.nan_to_num(np.asarray(pred, dtype=float), nan=cap, posinf=cap), cap)
    truth = np.asarray(truth, dtype=float)
    return float(np.sqrt(np.mean((pred - truth) ** 2))) if truth.size else math.nan
