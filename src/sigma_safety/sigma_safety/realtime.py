"""Real-time treatment of the safety process where the OS allows it: SCHED_FIFO for every thread, locked memory,
and no garbage-collector pauses on the hazard path.

Each step that the OS refuses (no CAP_SYS_NICE / RLIMIT_RTPRIO, no CAP_IPC_LOCK / RLIMIT_MEMLOCK, not Linux) is
skipped and reported, so the caller can log one warning; the node runs either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from pathlib import Path

MCL_CURRENT, MCL_FUTURE = 1, 2


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def set_fifo(priority: int) -> str | None:
    """SCHED_FIFO at ``priority`` for every thread that exists now (DDS threads included); None or why not."""
    if not hasattr(os, "sched_setscheduler"):
        return "SCHED_FIFO not available on this OS"
    failed = []
    for tid in _threads():
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
        except OSError as exc:
            failed.append(f"thread {tid}: {exc.strerror}")
    return f"SCHED_FIFO {priority} refused ({failed[0]}; grant CAP_SYS_NICE or an rtprio limit)" if failed else None


def lock_memory() -> str | None:
    """mlockall(MCL_CURRENT | MCL_FUTURE): no page faults on the hazard path; None or why not."""
    name = ctypes.util.find_library("c")
    if name is None:
        return "mlockall: no C library found"
    libc = ctypes.CDLL(name, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        return f"mlockall refused ({os.strerror(err)}; grant CAP_IPC_LOCK or raise the memlock limit)"
    return None


def freeze_gc() -> None:
    """Move everything allocated during start-up out of the collector's reach and make full collections rare:
    a collection of the start-up heap is the longest pause a Python callback can meet."""
    gc.collect()
    gc.freeze()
    gen0, _, _ = gc.get_threshold()
    gc.set_threshold(max(gen0, 50_000), 50, 1000)


def apply(priority: int, lock: bool) -> list[str]:
    """Apply what is asked and allowed; return one warning per refused step (empty: all applied)."""
    warnings: list[str] = []
    freeze_gc()
    if lock:
        why = lock_memory()
        if why:
            warnings.append(why)
    if priority > 0:
        why = set_fifo(priority)
        if why:
            warnings.append(why)
    return warnings


def describe() -> str:
    """The scheduling policy of this process's main thread, for the start-up log."""
    try:
        policy = os.sched_getscheduler(0)
        prio = os.sched_getparam(0).sched_priority
    except (AttributeError, OSError):
        return "scheduling unknown"
    name = {getattr(os, "SCHED_FIFO", -1): "SCHED_FIFO", getattr(os, "SCHED_OTHER", -2): "SCHED_OTHER"}.get(policy,
                                                                                                         str(policy))
    locked = "memory locked" if _vmlck_kb() > 0 else "memory not locked"
    return f"{name} {prio}, {locked}"


def _vmlck_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
