"""The time an exponentially forgetting estimate stands for, tracked beside it.

An estimator that forgets moves its value a share ``a`` of the way toward each new datum; the weighted mean time of
the data it then holds moves the same share toward the datum's time. Trend points are placed at that time (the
estimate of a ramp lags the clock by about one memory, but not its data time).
"""

from __future__ import annotations

import numpy as np


def advance(t_data: np.ndarray, t: float | np.ndarray, share: np.ndarray | float, mask: np.ndarray) -> np.ndarray:
    """``t_data`` moved ``share`` of the way toward ``t`` where ``mask`` is set (to ``t`` where still unknown, NaN);
    the other rows unchanged."""
    return np.where(mask, np.where(np.isnan(t_data), t, t_data + share * (t - t_data)), t_data)
