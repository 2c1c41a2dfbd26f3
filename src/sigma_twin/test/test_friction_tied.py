"""Round 24: the friction feature with the viscous term tied to the Coulomb term by their learnt ratio.

On a swinging joint ``sign(omega)`` and ``omega`` are nearly collinear regressors, so the free Coulomb estimate
scatters with the viscous one; wear raises both together, so with ``b = r f_c`` imposed (``r`` learnt from the
estimator's own history) the Coulomb friction is far less noisy. The twin reports that estimate; its trend gets the
per-epoch points tied by the same ratio (round 27, test_friction_epoch_points.py).
"""

from __future__ import annotations

import math

import numpy as np

from sigma_twin.core.friction import FrictionEstimator

W = 2.0 * math.pi / 7.3  # the wear model's swing


def _drive(fe: FrictionEstimator, hours: float, wear, seed: int, every: float = 600.0):
    """A payload swung 39 s of every 60 s (the bench's duty, no dock), sampled every 4 s; friction x ``wear(t)``.
    Returns per epoch: time, plain Coulomb, tied Coulomb, data time."""
    rng = np.random.default_rng(seed)
    n = fe.t_data.shape[0]
    phase = rng.uniform(0.0, 60.0, n)
    ones = np.ones(n, dtype=bool)
    out = []
    t, dt = 0.0, 4.0
    while t < hours * 3600.0:
        t += dt
        active = ((t + phase) % 60.0) < 39.0
        q = np.where(active, 0.6 + 0.4 * np.sin(W * (t + phase)), 0.6)
        w = np.where(active, 0.4 * W * np.cos(W * (t + phase)), 0.0)
        m = wear(t)
        tau = 40.0 * np.cos(q) + m * (1.5 * np.sign(w) + 0.5 * w) + rng.normal(0.0, 0.58, n) * active
        fe.add(t, q + rng.normal(0.0, 1e-4, n), w + rng.normal(0.0, 1e-3, n), tau, ones)
        if t % every < dt:
            out.append((t, fe.coulomb.copy(), fe.tied()[0].copy(), fe.t_data.copy()))
    return out


def test_tied_coulomb_is_less_noisy_and_unbiased_on_a_healthy_joint() -> None:
    fe = FrictionEstimator(8, 1800.0)
    pts = [p for p in _drive(fe, 12.0, lambda t: 1.0, seed=1) if p[0] >= 2 * 3600.0]
    plain = np.array([p[1] for p in pts]) - 1.5  # (epochs, rows)
    tied = np.array([p[2] for p in pts]) - 1.5
    # what a trend sees: the scatter within a row over time (free ~0.05 N*m, tied ~0.024; seed 0 of the bench: 0.054
    # vs 0.023); each row keeps an offset of a few hundredths from its learnt ratio
    assert np.std(tied - tied.mean(axis=0)) < 0.6 * np.std(plain - plain.mean(axis=0))
    assert np.all(np.abs(tied.mean(axis=0)) < 0.08), tied.mean(axis=0)
    assert np.allclose(fe.viscous_ratio, 0.5 / 1.5, rtol=0.35), fe.viscous_ratio
    _, var = fe.tied()
    assert np.all(var < fe.coulomb_var), (var, fe.coulomb_var)  # the constraint removes the collinear direction


def test_tied_coulomb_follows_wear_of_both_terms() -> None:
    """Friction x (1 + 0.25/h) from 4 h: the ratio stays, the tied estimate equals the truth at its data time."""
    fe = FrictionEstimator(4, 1800.0)

    def wear(t: float) -> float:
        return 1.0 + 0.25 * max(t / 3600.0 - 4.0, 0.0)

    pts = [p for p in _drive(fe, 12.0, wear, seed=2) if p[0] >= 6 * 3600.0]
    truth = np.array([1.5 * np.array([wear(s) for s in p[3]]) for p in pts])  # at each row's data time
    err = np.array([p[2] for p in pts]) - truth
    err_plain = np.array([p[1] for p in pts]) - truth
    assert np.all(np.abs((err / truth).mean(axis=0)) < 0.04), (err / truth).mean(axis=0)  # the ratio's offset
    assert np.std(err - err.mean(axis=0)) < 0.6 * np.std(err_plain - err_plain.mean(axis=0))
    assert np.allclose(fe.viscous_ratio, 1.0 / 3.0, rtol=0.35), fe.viscous_ratio


def test_no_ratio_without_a_positive_coulomb_history() -> None:
    """A load model that does not fit (a negative mean Coulomb estimate): no ratio, the plain estimate is used."""
    fe = FrictionEstimator(1, 300.0)
    one = np.ones(1, dtype=bool)
    rng = np.random.default_rng(4)
    for k in range(2000):
        t = 4.0 * k
        q, w = 0.6 + 0.4 * np.sin(W * t), 0.4 * W * np.cos(W * t)
        tau = 40.0 * np.cos(q) - 1.0 * np.sign(w) + 0.3 * w + rng.normal(0.0, 0.3)
        fe.add(t, np.array([q]), np.array([w]), np.array([tau]), one)
    assert np.isnan(fe.viscous_ratio[0])
    f, var = fe.tied()
    assert f[0] == fe.coulomb[0] and var[0] == fe.coulomb_var[0]
