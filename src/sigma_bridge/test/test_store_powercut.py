"""Power-cut durability of the bridge's store (issue 18): the kill -9 test also passed with synchronous=OFF.

The real EventStore runs in a child process on the `powercut` SQLite VFS (powercut/powercut_vfs.c): writes reach
the file only when SQLite syncs them; at a seeded cut point everything not yet synced is discarded (or a random
subset of it persists), exactly what a power loss does. After each cut the store is reopened as a restarted bridge
would: every event whose enqueue returned (and that the cloud had not acknowledged) must be there, and the database
must pass its integrity check. The same cuts with synchronous=OFF must lose acknowledged events, proving that the
test can tell durable from not durable. bench/bridge_powercut.py runs many more cut points.
"""

from __future__ import annotations

import shutil

import pytest
from powercut.harness import build_library, scratch_dir, sweep


@pytest.fixture(scope="module")
def rig():
    workdir = scratch_dir()
    try:
        yield build_library(workdir), workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_power_cut_loses_no_acknowledged_event_with_synchronous_full(rig):
    library, workdir = rig
    results = sweep(library, workdir, "FULL", cuts=24, seed=18)
    assert sum(r.cut for r in results) >= 20  # the cuts happened (inside the workload)
    for r in results:
        assert r.integrity == "ok", r
        assert r.lost == [], f"cut at op {r.cut_at} (mode {r.mode}) lost acknowledged events {r.lost[:10]}"
        assert r.resurrected == [], f"cut at op {r.cut_at}: events acked before the cut came back"
    assert sum(r.acknowledged for r in results) > 500  # there was plenty to lose


def test_the_same_power_cuts_lose_events_with_synchronous_off(rig):
    library, workdir = rig
    results = sweep(library, workdir, "OFF", cuts=6, seed=18)
    lossy = [r for r in results if r.lost]
    assert len(lossy) >= 5, [(r.cut_at, len(r.lost)) for r in results]
