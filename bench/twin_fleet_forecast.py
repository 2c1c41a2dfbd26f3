"""Fleet-wide batch forecast: every component of 10,000 robots in one vectorised pass of the twin core.

Run: source scripts/env.sh && python bench/twin_fleet_forecast.py [--robots 10000] [--components 24]

Each robot has ``--components`` health features (23 actuator thermal gains + the battery capacity) with a 10 h
history at the twin's 10-minute epochs (60 points; a share of them degrading), as the cloud holds them. The batch
builds one ``FeatureTrend`` per chunk of rows (rows never interact) and runs the same Bayesian trend fit and Monte
Carlo (``--samples`` draws per component) the robots run, giving RUL quantiles and risk for every component.
Baseline in the same run: the same core called robot by robot (one small batch per robot) for ``--loop-robots``
robots, extrapolated to the fleet. Goal: the whole fleet <= 10 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("sigma_twin", "sigma_ros_common"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

from sigma_twin.core.params import PrognosisParams  # noqa: E402
from sigma_twin.core.twin import make_trend  # noqa: E402

EPOCHS = 60


def history(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, EPOCHS) feature values (thermal-gain-like, scale ~0.25) and the limit per row; 10 % degrading."""
    t = np.arange(EPOCHS) / 6.0
    base = rng.uniform(0.2, 0.3, n)
    slope = np.where(rng.random(n) < 0.1, rng.uniform(0.005, 0.03, n), 0.0)
    y = base[:, None] + slope[:, None] * t[None, :] + rng.normal(0, 0.004, (n, EPOCHS))
    return y, np.full(n, 0.45)


def forecast_rows(y: np.ndarray, limit: np.ndarray, prog: PrognosisParams, rng: np.random.Generator):
    n = y.shape[0]
    trend = make_trend(n, prog, rising=True, scale=0.5, correlation_time=7200.0, capacity=EPOCHS)
    var = np.full(n, 1e-5)
    for k in range(EPOCHS):
        trend.record(k / 6.0, y[:, k], var)
    return trend.forecast((EPOCHS - 1) / 6.0, limit, rng)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robots", type=int, default=10000)
    ap.add_argument("--components", type=int, default=24)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=1000, help="rows per vectorised batch (cache-sized)")
    ap.add_argument("--loop-robots", type=int, default=50)
    ap.add_argument("--model", default=PrognosisParams().model, choices=("growth", "quadratic"),
                    help="trend model (the twin's default; quadratic = the former one)")
    args = ap.parse_args()
    prog = PrognosisParams(samples=args.samples, model=args.model)
    rng = np.random.default_rng(0)
    rows = args.robots * args.components
    y, limit = history(rng, rows)
    mc = np.random.default_rng(1)
    t0, c0 = time.perf_counter(), time.process_time()
    risky = 0
    q50 = np.empty(rows)
    for a in range(0, rows, args.chunk):
        f = forecast_rows(y[a:a + args.chunk], limit[a:a + args.chunk], prog, mc)
        q50[a:a + args.chunk] = f.q50
        risky += int((f.risk >= prog.risk_threshold).sum())
    batch, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for r in range(args.loop_robots):
        s = slice(r * args.components, (r + 1) * args.components)
        forecast_rows(y[s], limit[s], prog, mc)
    per_robot = (time.perf_counter() - t0) / args.loop_robots
    print(f"{rows} components ({args.robots} robots x {args.components}), {args.samples} Monte Carlo draws each")
    print(f"components at risk >= {prog.risk_threshold}: {risky}; finite median RUL: {int(np.isfinite(q50).sum())}")
    print(f"robot by robot (baseline, same core): {per_robot * 1e3:.1f} ms per robot -> "
          f"{per_robot * args.robots:.1f} s for the fleet")
    import os

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; batch CPU time {batch_cpu:.1f} s")
    print(f"fleet batch forecast: {batch:.1f} s for {args.robots} robots "
          f"({per_robot * args.robots / batch:.1f}x faster than robot by robot; goal <= 10 s)")


if __name__ == "__main__":
    main()
