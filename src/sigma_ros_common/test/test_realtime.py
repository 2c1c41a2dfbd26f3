"""sigma_ros_common.realtime: the session's (autogroup's) nice and one thread's nice, set and restored."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sigma_ros_common import realtime

AUTOGROUP = Path("/proc/self/autogroup")


def _group_nice() -> int | None:
    """The autogroup's nice, or None: no such file, or an empty one (the kernel shows nothing for a task whose
    scheduling group is a cgroup, as in most containers and systemd services; autogroup then plays no part)."""
    try:
        return int(AUTOGROUP.read_text().split("nice")[-1])
    except (OSError, ValueError):
        return None


def test_session_nice_returns_the_previous_value_and_restores():
    before = _group_nice()
    if before is None:
        assert realtime.session_nice(0) is None  # no autogroup: nothing to set, said so
        pytest.skip("this process is in no autogroup (cgroup scheduling or no autogroup support)")
    target = min(before + 1, 19)  # lowering our own priority is always allowed
    previous = realtime.session_nice(target)
    try:
        assert previous == before
        assert _group_nice() == target
    finally:
        realtime.session_nice(before)  # raising it back needs CAP_SYS_NICE unless it was never lowered
    if os.geteuid() == 0:
        assert _group_nice() == before


def test_thread_nice_changes_only_the_calling_thread():
    seen: dict[str, int] = {}
    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def worker() -> None:
        target = min(main_before + 2, 19)
        assert realtime.thread_nice(target) is None
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["target"] = target

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["worker"] == seen["target"]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


def test_a_refused_thread_nice_says_why():
    if os.geteuid() == 0:
        pytest.skip("root may take any nice value")
    assert "refused" in (realtime.thread_nice(-20) or "")
