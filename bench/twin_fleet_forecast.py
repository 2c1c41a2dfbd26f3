"""Fleet-wide batch forecast: every component of 10,000 robots, the fleet path against the previous batch code.

Run: source scripts/env.sh && python bench/twin_fleet_forecast.py [--robots 10000] [--components 24]

Each robot has ``--components`` health features (23 actuator thermal gains + the battery capacity) with a 10 h
history at the twin's 10-minute epochs (60 points; 10 % of them degrading), as the cloud holds them. Two paths give
RUL quantiles and risk for every component with the same onset-and-growth model and ``--samples`` Monte Carlo draws:

* fleet — ``core/fleet.py``: the histories on their common epoch grid, suffix sums as matrix products, "no onset"
  draws in closed form (one binomial per row), only onset draws sampled;
* previous — the batch code of round 3: one ``GrowthTrend`` per chunk of rows, the 60 epochs recorded into its ring
  buffer, ``forecast`` (the reference the fleet path is tested against, ``test_fleet_forecast.py``).

Both run on the same chunks, alternating chunk by chunk, so a change of the host's load hits both alike. CPU time is
``time.process_time`` (this process), wall is ``time.perf_counter``. Optional ``--loop-robots``: the same core called
robot by robot, extrapolated to the fleet. Goal of issue #11: the whole fleet <= 10 s. Last line: the fleet path's
CPU seconds for the fleet and its ratio to the previous code in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# one BLAS thread: CPU time is then one core's work (idle BLAS threads spin and would count as CPU)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("sigma_twin", "sigma_ros_common"):
    sys.path.insert(0, str(ROOT / "src" / pkg))

from sigma_twin.core.fleet import FleetTrend, fleet_forecast  # noqa: E402
from sigma_twin.core.params import PrognosisParams  # noqa: E402
from sigma_twin.core.twin import make_trend  # noqa: E402

EPOCHS = 60
TIMES_H = np.arange(EPOCHS) / 6.0
CORRELATION_TIME = 7200.0
SCALE = 0.5


def history(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, EPOCHS) feature values (thermal-gain-like, scale ~0.25) and the limit per row; 10 % degrading."""
    t = TIMES_H
    base = rng.uniform(0.2, 0.3, n)
    slope = np.where(rng.random(n) < 0.1, rng.uniform(0.005, 0.03, n), 0.0)
    y = base[:, None] + slope[:, None] * t[None, :] + rng.normal(0, 0.004, (n, EPOCHS))
    return y, np.full(n, 0.45)


def forecast_rows(y: np.ndarray, limit: np.ndarray, prog: PrognosisParams, rng: np.random.Generator):
    """The previous batch code: a ``GrowthTrend`` (or quadratic) over the rows, epochs recorded, one forecast."""
    n = y.shape[0]
    trend = make_trend(n, prog, rising=True, scale=SCALE, correlation_time=CORRELATION_TIME, capacity=EPOCHS)
    var = np.full(n, 1e-5)
    for k in range(EPOCHS):
        trend.record(TIMES_H[k], y[:, k], var)
    return trend.forecast(TIMES_H[-1], limit, rng)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robots", type=int, default=10000)
    ap.add_argument("--components", type=int, default=24)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=1000, help="rows per vectorised batch (cache-sized), both paths")
    ap.add_argument("--loop-robots", type=int, default=0, help="also time the core robot by robot (0 = skip)")
    ap.add_argument("--model", default=PrognosisParams().model, choices=("growth", "quadratic"),
                    help="trend model of the previous path (the fleet path is the growth model)")
    args = ap.parse_args()
    prog = PrognosisParams(samples=args.samples, model=args.model)
    rows = args.robots * args.components
    y, limit = history(np.random.default_rng(0), rows)
    trend = FleetTrend(prog, rising=True, scale=SCALE, correlation_time=CORRELATION_TIME)
    rng_prev, rng_fleet = np.random.default_rng(1), np.random.default_rng(2)
    cpu = {"previous": 0.0, "fleet": 0.0}
    wall = {"previous": 0.0, "fleet": 0.0}
    risky = {"previous": 0, "fleet": 0}
    finite = {"previous": 0, "fleet": 0}
    q50_diff: list[np.ndarray] = []
    load0 = os.getloadavg()[0]
    for a in range(0, rows, args.chunk):
        s = slice(a, a + args.chunk)
        t0, c0 = time.perf_counter(), time.process_time()
        f_prev = forecast_rows(y[s], limit[s], prog, rng_prev)
        wall["previous"] += time.perf_counter() - t0
        cpu["previous"] += time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        f_fleet = fleet_forecast(trend, TIMES_H, y[s], limit[s], TIMES_H[-1], rng_fleet, chunk=args.chunk)
        wall["fleet"] += time.perf_counter() - t0
        cpu["fleet"] += time.process_time() - c0
        for name, f in (("previous", f_prev), ("fleet", f_fleet)):
            risky[name] += int((f.risk >= prog.risk_threshold).sum())
            finite[name] += int(np.isfinite(f.q50).sum())
        both = np.isfinite(f_prev.q50) & np.isfinite(f_fleet.q50)
        q50_diff.append(f_fleet.q50[both] - f_prev.q50[both])
    load1 = os.getloadavg()[0]
    print(f"{rows} components ({args.robots} robots x {args.components}), {args.samples} Monte Carlo draws each, "
          f"chunks of {args.chunk} rows, previous model {args.model}")
    for name in ("previous", "fleet"):
        print(f"  {name:8s}: CPU {cpu[name]:6.2f} s, wall {wall[name]:6.2f} s; components at risk >= "
              f"{prog.risk_threshold}: {risky[name]}; finite median RUL: {finite[name]}")
    d = np.concatenate(q50_diff) if q50_diff else np.zeros(0)
    if d.size:
        print(f"  median RUL fleet - previous where both finite: mean {d.mean():+.3f} h, "
              f"median |diff| {np.median(np.abs(d)):.3f} h ({d.size} components)")
    if args.loop_robots:
        t0 = time.perf_counter()
        for r in range(args.loop_robots):
            s = slice(r * args.components, (r + 1) * args.components)
            forecast_rows(y[s], limit[s], prog, rng_prev)
        per_robot = (time.perf_counter() - t0) / args.loop_robots
        print(f"  robot by robot (previous core): {per_robot * 1e3:.1f} ms per robot -> "
              f"{per_robot * args.robots:.1f} s wall for the fleet")
    print(f"load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} cores")
    print(f"fleet batch forecast, {args.robots} robots: CPU {cpu['fleet']:.2f} s "
          f"({cpu['fleet'] / max(cpu['previous'], 1e-9):.2f}x the previous code's {cpu['previous']:.2f} s), wall "
          f"{wall['fleet']:.2f} s ({wall['fleet'] / max(wall['previous'], 1e-9):.2f}x); goal <= 10 s")


if __name__ == "__main__":
    main()
