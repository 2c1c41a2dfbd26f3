"""Round 27: the friction trend's points are independent per-epoch fits (``FrictionEstimator.epoch_point``).

Each point is the least-squares Coulomb friction of one epoch's moving samples alone (the load terms fitted with it,
the viscous term tied by the learnt ratio), at the samples' mean time: points share no data, so a change of the
friction shows in full in the first point after it, where the forgetting RLS's running estimate blurs it over its
memory (hours of clock time on a joint that moves part of the time).
"""

from __future__ import annotations

import math

import numpy as np

from sigma_sim.degradation import Degradation
from sigma_sim.wear import WearConfig, WearSimulator
from sigma_twin.core.friction import FrictionEstimator
from sigma_twin.core.twin import ActuatorTwin

W = 2.0 * math.pi / 7.3  # the wear model's swing


def _swing(fe: FrictionEstimator, t0: float, t1: float, friction, rng, dt: float = 1.0) -> None:
    """A payload swung 39 s of every 60 s between ``t0`` and ``t1`` [s], sampled every ``dt``; Coulomb friction
    ``friction(t)`` with the viscous term a third of it."""
    n = fe.t_data.shape[0]
    ones = np.ones(n, dtype=bool)
    for t in np.arange(t0 + dt, t1 + dt / 2, dt):
        active = (t % 60.0) < 39.0
        q = 0.6 + 0.4 * np.sin(W * t) if active else 0.6
        w = 0.4 * W * np.cos(W * t) if active else 0.0
        f = friction(t)
        tau = 40.0 * np.cos(q) + f * (np.sign(w) + w / 3.0) + rng.normal(0.0, 0.58, n) * active
        fe.add(float(t), np.full(n, q) + rng.normal(0.0, 1e-4, n), np.full(n, w) + rng.normal(0.0, 1e-3, n),
               tau, ones)


def test_a_step_shows_in_full_in_the_next_point_and_the_running_estimate_blurs_it() -> None:
    fe = FrictionEstimator(4, 1800.0)
    rng = np.random.default_rng(3)
    step_at = 3.0 * 3600.0

    def friction(t: float) -> float:
        return 1.5 if t < step_at else 2.5

    points = []
    for k in range(1, 25):  # 4 h in epochs of 10 min
        _swing(fe, 600.0 * (k - 1), 600.0 * k, friction, rng)
        points.append(fe.epoch_point())
    f, _, when = (np.array(p) for p in zip(*points, strict=True))
    before = np.isfinite(f) & (when < step_at)
    after = np.isfinite(f) & (when > step_at + 600.0)
    assert before.sum() >= 8 and after.sum() >= 8
    # each row keeps an offset of a few percent from its learnt ratio (0.35-0.49 here, truly 1/3)
    assert np.all(np.abs(f[before] - 1.5) < 0.15) and abs(np.mean(f[before]) - 1.5) < 0.06, f[before]
    first_after = f[18]  # the epoch 3:00-3:10 h holds only samples after the step
    assert np.all(np.abs(first_after - 2.5) < 0.2) and np.all(np.abs(f[after] - 2.5) < 0.2), f[after]
    assert np.all((when[18] > step_at) & (when[18] < step_at + 600.0)), when[18]  # the samples' mean time
    # the running estimate at the end of that epoch still holds much of the old value
    fe2 = FrictionEstimator(4, 1800.0)
    _swing(fe2, 0.0, step_at + 600.0, friction, np.random.default_rng(3))
    assert np.all(fe2.tied()[0] < 2.2) and np.all(first_after > 2.3), (fe2.tied()[0], first_after)


def test_a_joint_that_hardly_moved_keeps_its_samples_for_the_next_point() -> None:
    fe = FrictionEstimator(1, 600.0, min_motion=120.0)
    rng = np.random.default_rng(5)
    _swing(fe, 0.0, 3600.0, lambda t: 1.5, rng)  # the RLS's start-up and the ratio learnt
    fe.epoch_point()
    _swing(fe, 3600.0, 3660.0, lambda t: 1.5, rng)  # 39 s of motion: too little for a point
    f, _, _ = fe.epoch_point()
    assert np.isnan(f[0])
    _swing(fe, 3660.0, 3900.0, lambda t: 1.5, rng)
    f, var, when = fe.epoch_point()
    assert abs(f[0] - 1.5) < 0.15 and 0.0 < var[0] < 0.01
    assert 3600.0 < when[0] < 3900.0  # the mean time of both stretches' samples
    assert np.isnan(fe.epoch_point()[0][0])  # its samples were used


def test_the_friction_trend_records_the_epoch_points() -> None:
    sim = WearSimulator([None, None, Degradation("friction_growth", onset=1800.0, rate=0.5)], seed=5,
                        cfg=WearConfig(dt=1.0))
    act = ActuatorTwin(sim.n)
    taken = []
    own = act.friction.epoch_point

    def epoch_point():
        taken.append(own())
        return taken[-1]

    act.friction.epoch_point = epoch_point  # type: ignore[method-assign]
    ones = np.ones(sim.n, dtype=bool)
    while sim.t < 3.0 * 3600.0:
        m = sim.step()
        act.add(m.t, m.current, m.t_winding, m.t_housing, m.position, m.velocity, m.effort, ones, ones)
    tr = act.friction_trend
    values = np.concatenate([p[0] for p in taken])
    assert np.isfinite(values).sum() >= 6
    recorded = tr.y[:, : tr.head][np.isfinite(tr.y[:, : tr.head])]
    assert np.allclose(np.sort(recorded), np.sort(values[np.isfinite(values)]))
