"""A small seeded slice of bench/fleet_scale.py: 20 emulated robots (own keys, signed batches at the bridge's default
rates, long-polled decisions) against the real service; every acknowledged event is stored exactly once."""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "fleet_scale.py"


@pytest.mark.skipif(not BENCH.exists(), reason="bench/ is not part of an installed package")
def test_fleet_slice_zero_loss_exactly_once(cloud: Any) -> None:
    spec = importlib.util.spec_from_file_location("fleet_scale", BENCH)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    random.seed(16)
    robots = [cloud.robot(f"fleet-slice-{i:02d}", site_id="site-fleet") for i in range(20)]
    token = cloud.token()["Authorization"].removeprefix("Bearer ")
    totals = asyncio.run(bench.emulate(cloud.url, [(r.robot_id, r.seed) for r in robots], seconds=6.0, period=0.5,
                                       first_seq=1, token=token, decision_rate=4.0))
    assert totals.errors == []
    assert set(totals.last_seq) == {r.robot_id for r in robots}  # every robot got acks
    assert totals.acked_events >= 20 * 17  # at least one half-second batch (17 events) each
    stored, problems = bench.check_exactly_once(cloud.runtime.owner_url, 1, totals.last_seq)
    assert problems == []
    assert stored == totals.acked_events  # nothing acknowledged is missing, nothing stored twice
    assert totals.decisions_sent > 0 and totals.decision_rtts  # decisions reached their robots' long-polls
