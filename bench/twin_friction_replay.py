"""Friction forecasts at lambda against oracle point series: where the friction kind's alpha-lambda is lost.

Run: source scripts/env.sh && python bench/twin_friction_replay.py [--seed 3000] [--runs 50]

A diagnostic of the prognostics bench (``twin_prognostics.py``) for one kind, friction growth: ``--runs`` seeded
robots with random onset, life and quadratic share run unpaced through ``sigma_sim.wear`` into the real
``ActuatorTwin``, whose friction trend gets one independent point per epoch (round 27). Beside it, the same trend model
is fed the point series of round 26's twin -- the forgetting RLS's running estimate (viscous term tied) at its data
time, recorded at the same epochs with that twin's gates -- and series derived from it, two of them oracles that read
the simulator's truth (this script only; the twin never does):
- ``running estimate, lead 0.75 h``: round 26's twin (its points placed 0.75 h after their data time);
- ``truth@tdata``: the true Coulomb friction at each running point's data time (no estimator noise, no smoothing),
  also with the trend's noise floor nearly off (the model's own check: perfect points, a right model);
- ``smoothed truth``: the truth averaged with the running estimator's forgetting weights (what a noise-free estimator
  with the same kernel would read; the weights are taken by wrapping ``core.data_time.advance``, which the estimator
  calls with them);
- ``kink-aware`` (round 26's candidate, not in the twin): the onset-and-growth model with each post-onset regressor
  replaced by its expectation under the point's forgetting kernel, ``E[(T - c)_+^k]`` with ``T = t_d + s - E``,
  ``E ~ Exp(s)`` (``s`` = the kernel's spread in clock time, tracked beside the data time), so a blurred onset is
  modelled instead of being fitted as an early onset with a bend.
Per variant: alpha-lambda (alpha 0.2, beta 0.5) at lambda = 0.5, 90 % coverage over every forecast from onset to
failure, the median forecast over the true remaining time at lambda and its quartiles over runs, the draws'
interquartile range over the true remaining time, and both split by the truth's quadratic share (below / above 0.35).
The last line is the headline: alpha-lambda of the twin, of round 26's running estimate and of the kink-aware model
on it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for pkg in ("sigma_sim", "sigma_twin", "sigma_ros_common"):  # run from a checkout without building
    sys.path.insert(0, str(ROOT / "src" / pkg))

import sigma_twin.core.friction as friction_module  # noqa: E402
from sigma_sim.degradation import sample_degradation  # noqa: E402
from sigma_sim.wear import WearConfig, WearSimulator, level_to_fail  # noqa: E402
from sigma_twin.core import data_time, metrics  # noqa: E402
from sigma_twin.core.growth import GrowthTrend  # noqa: E402
from sigma_twin.core.params import EstimatorParams, LimitParams, PrognosisParams  # noqa: E402
from sigma_twin.core.twin import ActuatorTwin  # noqa: E402

KIND = "friction_growth"
ROUND26_LEAD = 0.75  # [h] round 26's twin placed its running estimate's points this much after their data time


class KinkAwareTrend(GrowthTrend):
    """The onset-and-growth mixture with kernel-expected regressors (dense over rows x candidates x points; the
    posterior over candidates is GrowthTrend's)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.spread = np.zeros((self.n, self.cap))  # kernel spread s of each point [h]

    def record(self, t_h, value, var, fresh=None, at=None, spread_h=None) -> None:
        k = self.head % self.cap
        super().record(t_h, value, var, fresh, at)
        self.spread[:, k] = 0.0 if spread_h is None else np.nan_to_num(spread_h)

    def _candidate_sums(self, tau, w, yc, tau_c):
        """GrowthTrend's sums with each regressor replaced by its kernel expectation: E[(h - E)_+] and
        E[(h - E)_+^2], h = time from the onset to the kernel's newest datum, E ~ Exp(s)."""
        order = (np.arange(self.cap) + self.head) % self.cap if self.head > self.cap else np.arange(self.head)
        s = np.maximum(self.spread[:, order], 1e-6)[:, None, :]
        h = tau[:, None, :] - tau_c[:, :, None] + s
        ex = np.exp(-np.maximum(h, 0.0) / s)
        r1 = np.where(h > 0, h - s * (1.0 - ex), 0.0)
        r2 = np.where(h > 0, h * h - 2.0 * h * s + 2.0 * s * s * (1.0 - ex), 0.0)
        wv, ycv = w[:, None, :], yc[:, None, :]
        return ((wv * r1).sum(axis=2), (wv * r2).sum(axis=2), (wv * r1 * r1).sum(axis=2),
                (wv * r1 * r2).sum(axis=2), (wv * r2 * r2).sum(axis=2), (ycv * r1).sum(axis=2),
                (ycv * r2).sum(axis=2))


class KernelTap:
    """Stands in for ``core.data_time`` inside ``core.friction``: the same ``advance``, and with the same weights the
    truth's kernel average and the data times' second moment (the kernel's spread)."""

    def __init__(self, n: int) -> None:
        self.truth = np.full(n, np.nan)
        self.smoothed = np.full(n, np.nan)
        self.t2 = np.full(n, np.nan)

    def advance(self, t_data, t, share, mask):
        self.smoothed = data_time.advance(self.smoothed, self.truth, share, mask)  # the same recursion on the truth
        self.t2 = data_time.advance(self.t2, t * t, share, mask)  # and on t^2
        return data_time.advance(t_data, t, share, mask)

    def spread_h(self, t_data: np.ndarray) -> np.ndarray:
        return np.sqrt(np.maximum(self.t2 - t_data * t_data, 0.0)) / 3600.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=3000, help="(3000 and 4000: the diagnostic seeds, not the bench's)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--hours", type=float, default=60.0)
    ap.add_argument("--dt", type=float, default=1.0, help="sample period of the simulated drivers [s] (the bench's)")
    args = ap.parse_args()
    cfg = WearConfig(dt=args.dt)
    rng = np.random.default_rng(args.seed)
    level = level_to_fail(KIND, cfg)
    degs = [sample_degradation(rng, KIND, level_at_life=level) for _ in range(args.runs)]
    sim = WearSimulator(degs, seed=args.seed + 1, cfg=cfg)
    n = sim.n
    est = EstimatorParams()
    limits = LimitParams(max_winding_temperature=cfg.max_winding_temperature, friction_limit=cfg.friction_limit,
                         rated_capacity=cfg.rated_capacity_ah, capacity_eol_share=cfg.capacity_eol_share,
                         bias_tolerance=cfg.bias_tolerance)
    prog = PrognosisParams(seed=args.seed)
    twin = ActuatorTwin(n, est, limits, prog)
    tap = KernelTap(n)
    friction_module.data_time = tap  # type: ignore[assignment]

    def trend(cls=GrowthTrend, lead: float = 0.0, floor: float | None = None, corr: float | None = None):
        pr = prog if floor is None else replace(prog, noise_floor=floor)
        t = cls(n, pr, True, 0.75 * limits.friction_limit, est.friction_memory if corr is None else corr, 6, 512)
        t.lag_h = -lead
        return t

    # name -> (the point series it is fed, its trend)
    variants = {
        "twin (per-epoch points)": ("twin", twin.friction_trend),
        f"running estimate, lead {ROUND26_LEAD:g} h (round 26's twin)": ("tied", trend(lead=ROUND26_LEAD)),
        "running estimate, lead 0": ("tied", trend()),
        "truth@tdata": ("truth", trend()),
        "truth@tdata, noise floor 0.002": ("truth", trend(floor=0.002)),
        "smoothed truth, lead 0": ("smoothed", trend()),
        f"smoothed truth, lead {ROUND26_LEAD:g} h": ("smoothed", trend(lead=ROUND26_LEAD)),
        "kink-aware, running estimate": ("tied", trend(KinkAwareTrend)),
        "kink-aware, running, noise floor 0.005": ("tied", trend(KinkAwareTrend, floor=0.005)),
        "kink-aware, smoothed truth": ("smoothed", trend(KinkAwareTrend)),
        "kink-aware, smoothed truth, floor 0.005": ("smoothed", trend(KinkAwareTrend, floor=0.005)),
    }
    steps, every = int(args.hours * 3600 / cfg.dt), round(0.5 * 3600 / cfg.dt)
    hist = np.zeros((steps, n))  # the truth after step k (time k dt), for its value at a data time
    own_record = twin.friction_trend.record
    seen = np.zeros(n)  # round 26's gate: a running point is new once the RLS has taken 10 more samples

    def truth_at(t_data: np.ndarray) -> np.ndarray:
        """The truth at each row's data time, linear between steps (NaN where there is no data time)."""
        x = np.nan_to_num(t_data, nan=cfg.dt) / cfg.dt - 1.0
        i = np.clip(np.floor(x).astype(int), 0, steps - 2)
        frac = np.clip(x - i, 0.0, 1.0)
        rows = np.arange(n)
        value = hist[i, rows] + frac * (hist[i + 1, rows] - hist[i, rows])
        return np.where(np.isfinite(t_data), value, np.nan)

    def record(th, value, var, fresh, at=None) -> None:  # the twin's own point, then the others at round 26's gates
        nonlocal seen
        own_record(th, value, var, fresh, at=at)
        tied, tied_var = twin.friction.tied()
        run = th * 3600.0 - twin.thermal.t_first
        tied = np.where(run >= 2.0 * est.friction_memory, tied, np.nan)
        count = twin.friction.rls.count.astype(float)
        new = count > seen + 10
        seen = np.where(new, count, seen)
        ok = np.isfinite(tied)
        td = twin.friction.t_data
        points = {"tied": tied, "truth": np.where(ok, truth_at(td), np.nan),
                  "smoothed": np.where(ok, tap.smoothed, np.nan)}
        spread = tap.spread_h(td)
        for source, tr in variants.values():
            if isinstance(tr, KinkAwareTrend):
                tr.record(th, points[source], tied_var, new, at=td / 3600.0, spread_h=spread)
            elif source != "twin":
                tr.record(th, points[source], tied_var, new, at=td / 3600.0)

    twin.friction_trend.record = record  # type: ignore[method-assign]
    ones = np.ones(n, dtype=bool)
    mcs = {name: np.random.default_rng(args.seed + 2) for name in variants}
    draws: dict[str, list[np.ndarray]] = {name: [] for name in variants}
    times: list[float] = []
    wall = time.perf_counter()
    for k in range(1, steps + 1):
        m = sim.step()
        tap.truth = sim.truth.coulomb_friction.copy()
        hist[k - 1] = tap.truth
        twin.add(m.t, m.current, m.t_winding, m.t_housing, m.position, m.velocity, m.effort, ones, ones)
        if k % every == 0:
            times.append(m.t / 3600.0)
            for name, (_, tr) in variants.items():
                f = tr.forecast(m.t / 3600.0, np.full(n, limits.friction_limit), mcs[name])
                draws[name].append(f.samples.astype(np.float32))
    ts = np.array(times)
    gt, onset = sim.failure_time / 3600.0, sim.onset / 3600.0
    rate, accel = np.array([d.rate for d in degs]), np.array([d.accel for d in degs])
    life = np.where(accel > 0, (-rate + np.sqrt(rate * rate + 4 * accel * level)) / (2 * accel + 1e-300), level / rate)
    quad = accel * life * life / level
    print(f"{n} friction robots x {args.hours:g} h in {time.perf_counter() - wall:.0f} s wall; seed {args.seed}; "
          f"samples every {args.dt:g} s; "
          f"kernel spread in clock time, median {np.nanmedian(tap.spread_h(twin.friction.t_data)):.2f} h")
    print("variant | alpha-lambda | 90 % coverage | median/true at lambda (q25-q75) | draws' IQR/true | "
          "quad share < 0.35: a-l, median/true | >= 0.35: a-l, median/true")
    headline = {}
    for name in variants:
        rows, hits, total = [], 0, 0
        for r in np.flatnonzero(np.isfinite(gt)):
            sel = np.flatnonzero((ts >= onset[r]) & (ts < gt[r]))
            lam = onset[r] + 0.5 * (gt[r] - onset[r])
            at = sel[ts[sel] >= lam]
            for i in sel:
                d = draws[name][i][r].astype(float)
                total += 1
                if not np.isnan(d).all():
                    lo, hi = np.quantile(np.nan_to_num(d, nan=np.inf), [0.05, 0.95])
                    hits += bool(lo <= gt[r] - ts[i] <= hi)
            if not len(at):
                continue
            d = np.nan_to_num(draws[name][at[0]][r].astype(float), nan=np.inf)
            true = gt[r] - ts[at[0]]
            iqr = (np.quantile(d, 0.75) - np.quantile(d, 0.25)) / true if np.isfinite(d).mean() > 0.75 else np.inf
            ok = metrics.in_bounds_share(d + ts[at[0]], gt[r], ts[at[0]], 0.2) >= 0.5
            rows.append((quad[r], np.median(d) / true, ok, iqr))
        res = np.array(rows)
        lo_q, hi_q = res[:, 0] < 0.35, res[:, 0] >= 0.35
        headline[name] = res[:, 2].mean()
        print(f"{name} | {res[:, 2].mean():.2f} | {hits / max(total, 1):.2f} | {np.median(res[:, 1]):.3f} "
              f"({np.quantile(res[:, 1], 0.25):.2f}-{np.quantile(res[:, 1], 0.75):.2f}) | {np.median(res[:, 3]):.2f} | "
              f"{res[lo_q, 2].mean():.2f}, {np.median(res[lo_q, 1]):.3f} | {res[hi_q, 2].mean():.2f}, "
              f"{np.median(res[hi_q, 1]):.3f}")
    twin_name, old_name = list(variants)[:2]
    print(f"friction alpha-lambda at lambda, seed {args.seed}: twin {headline[twin_name]:.2f}, "
          f"round 26's running estimate {headline[old_name]:.2f}, "
          f"kink-aware on it {headline['kink-aware, running estimate']:.2f}")

if __name__ == "__main__":
    main()
