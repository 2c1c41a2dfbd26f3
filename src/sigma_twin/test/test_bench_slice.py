"""A small seeded slice of bench/twin_prognostics.py: the whole pipeline (wear model -> twin core -> scoring) runs,
the spoofed sensors are found and healthy robots raise no spoof alarm. The full bench reports the figures."""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "twin_prognostics.py"


def _bench():
    spec = importlib.util.spec_from_file_location("twin_prognostics", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.skipif(not BENCH.exists(), reason="bench/ is not part of an installed package")
def test_seeded_bench_slice():
    bench = _bench()
    args = argparse.Namespace(runs=2, healthy=4, seed=7, hours=20.0, dt=1.0, window=10.0, every=1.0)
    res = bench.simulate(args)
    out = bench.score(res, args)
    spoof = out["spoofed_temperature"]
    assert spoof["runs"] == 2 and spoof["detection_rate"] >= 0.5
    assert spoof["false_alarms_healthy"] == 0.0
    for kind in bench.KINDS[:-1]:
        o = out[kind]
        assert o["runs"] == 2
        if o["censored"] < 2:  # at least one run failed within the slice: it was scored
            assert 0.0 <= o["coverage90"] <= 1.0 and math.isfinite(o["rmse_twin_h"])
    # the truth stays with the bench: the twin's rows never saw a failure time
    assert not hasattr(res["act"], "failure_time")


@pytest.mark.skipif(not BENCH.exists(), reason="bench/ is not part of an installed package")
def test_one_kind_slice():
    """``--kinds``: only those robots are simulated and scored (no spoofed sensors: nothing to detect)."""
    bench = _bench()
    args = argparse.Namespace(runs=2, healthy=1, seed=7, hours=4.0, dt=1.0, window=10.0, every=1.0,
                              kinds=["capacity_fade"])
    res = bench.simulate(args)
    assert list(res["sim"].kinds) == ["capacity_fade", "capacity_fade", ""]
    out = bench.score(res, args)
    assert "cooling_loss" not in out and out["capacity_fade"]["runs"] == 2
    assert out["spoofed_temperature"]["runs"] == 0 and math.isnan(out["spoofed_temperature"]["detection_rate"])
