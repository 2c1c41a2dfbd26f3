"""Real-time treatment of a process where the OS allows it: SCHED_FIFO for every thread, locked memory, and no
garbage-collector pauses on the hazard path (the safety node); or a raised fair-share priority (``set_nice``, the
simulator, which stands in for sensor hardware whose timing never depends on how busy the robot's computer is).

Each step that the OS refuses (no CAP_SYS_NICE / RLIMIT_RTPRIO, no CAP_IPC_LOCK / RLIMIT_MEMLOCK, not Linux) is
skipped and reported, so the caller can log one warning; the node runs either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import gzip
import os
import platform
import threading
from pathlib import Path
from typing import Any

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


def set_nice(nice: int) -> str | None:
    """``nice`` for every thread that exists now (Linux keeps a nice value per thread; later threads inherit the
    creating thread's); None or why not."""
    if not hasattr(os, "setpriority"):
        return "setpriority not available on this OS"
    failed = []
    for tid in _threads():
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError as exc:
            failed.append(f"thread {tid}: {exc.strerror}")
    if not failed and os.getsid(0) == os.getpid():
        # With autogroup scheduling (Linux's default for desktops and many servers) every session is one scheduling
        # group, each group gets an equal share, and a thread's nice counts only inside its group: a launcher that
        # starts every node in its own session makes nice alone worthless. A session leader owns its group: nice it.
        session_nice(nice)
    return f"nice {nice} refused ({failed[0]}; grant CAP_SYS_NICE or a nice limit)" if failed else None


def session_nice(nice: int) -> int | None:
    """Set the nice of this process's autogroup (its whole session's share of the CPU under autogroup scheduling)
    even when it does not lead the session; returns the previous value to restore, or None where there is no
    autogroup (the file is missing, or empty where the task's scheduling group is a cgroup, as in most containers)
    or the change is refused (no CAP_SYS_NICE)."""
    path = Path("/proc/self/autogroup")
    try:
        previous = int(path.read_text().split("nice")[-1])
        path.write_text(str(nice))
    except (OSError, ValueError):
        return None
    return previous


def thread_nice(nice: int) -> str | None:
    """``nice`` for the calling thread only (threads it starts later inherit it); None or why not."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError) as exc:
        return f"nice {nice} refused for this thread ({exc})"
    return None


def apply_nice(logger: Any, nice: int) -> None:
    """``set_nice(nice)`` unless 0, a refusal logged as a warning (the process runs on without it), then the
    resulting scheduling logged once; ``logger`` is an rclpy logger (``info``/``warning``)."""
    if nice:
        why = set_nice(nice)
        if why:
            logger.warning(f"{why}: running without it")
    logger.info(f"process scheduling: {describe()}")


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
    nice = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else 0
    group = ""
    with contextlib.suppress(OSError):
        group = " (" + Path("/proc/self/autogroup").read_text().strip().lstrip("/") + ")"
    return f"{name} {prio}" + (f" nice {nice}{group}" if nice else "") + f", {locked}"


_PREEMPT_OPTIONS = (("CONFIG_PREEMPT_RT", "rt"), ("CONFIG_PREEMPT_LAZY", "lazy"), ("CONFIG_PREEMPT", "full"),
                    ("CONFIG_PREEMPT_VOLUNTARY", "voluntary"), ("CONFIG_PREEMPT_NONE", "none"))


def parse_preemption(config_text: str, dynamic_mode: str | None = None) -> str:
    """The kernel's preemption model from its build configuration (``/proc/config.gz`` text) and, for a
    PREEMPT_DYNAMIC kernel, the mode chosen at boot (``/sys/kernel/debug/sched/preempt``, e.g. ``none (voluntary)
    full``, the active one in parentheses) when it can be read; ``unknown`` when neither says."""
    if dynamic_mode:
        active = [w.strip("()") for w in dynamic_mode.split() if w.startswith("(")]
        if active:
            return active[0] + " (dynamic)"
    enabled = {line.split("=")[0] for line in config_text.splitlines() if line.endswith("=y")}
    for option, name in _PREEMPT_OPTIONS:
        if option in enabled:
            return name + (" (dynamic: boot default)" if "CONFIG_PREEMPT_DYNAMIC" in enabled else "")
    return "unknown"


def kernel_preemption() -> str:
    """This kernel's preemption model (``none``/``voluntary``/``full``/``lazy``/``rt``), read where the OS lets us.

    Under ``none`` or ``voluntary`` a SCHED_FIFO thread that wakes while another task runs kernel code waits until
    that code yields: milliseconds under I/O or network load, whatever our priority. A robot's safety computer runs
    a PREEMPT_RT (or at least ``full``) kernel."""
    dynamic = None
    with contextlib.suppress(OSError):
        dynamic = Path("/sys/kernel/debug/sched/preempt").read_text()
    config = ""
    try:
        with gzip.open("/proc/config.gz", "rt") as fh:
            config = fh.read()
    except OSError:
        pass
    model = parse_preemption(config, dynamic)
    if model == "unknown" and "PREEMPT_RT" in platform.version():
        model = "rt"
    return model


def _vmlck_kb() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0
