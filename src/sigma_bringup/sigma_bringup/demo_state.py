"""Making the main command work every time: a clean demo state at start, and a plain answer when a robot cannot
take work. Pure: files and plain values, no rclpy.

A real robot keeps latched faults across restarts (``sigma_safety``'s latch file) until an authorized reset. The demo
starts fresh simulated robots each time, so what the previous run latched (r3's motor shut down, as scripted) is moved
aside to ``latched.json.previous`` with a line saying so, instead of silently blocking the new run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

LEVEL_NAMES = {0: "nominal", 1: "degraded", 2: "protective stop", 3: "emergency stop"}
AUTHORITY_NAMES = {0: "primary AI", 1: "edge AI", 2: "mechanical fallback (no AI may command)"}


def latch_path(data_dir: Path, robot: str) -> Path:
    """Where robot.launch.yaml tells the supervisor to keep the robot's latched faults."""
    return data_dir / "sigma_safety" / robot / "latched.json"


def clear_previous_latches(data_dir: Path, robots: Iterable[str]) -> list[str]:
    """Move each robot's latch file from an earlier run aside; return one line per robot that had one."""
    said = []
    for robot in robots:
        path = latch_path(data_dir, robot)
        if not path.exists():
            continue
        try:
            records = json.loads(path.read_text())
            faults = ", ".join(f"{r['rule']} {r['source']} ({r['cause']})" for r in records) or "none"
        except (OSError, ValueError, TypeError, KeyError) as exc:
            faults = f"unreadable: {exc}"
        aside = path.with_name(path.name + ".previous")
        path.replace(aside)
        said.append(f"{robot}: latched faults of the previous run cleared for a fresh demo robot ({faults}); "
                    f"kept as {aside}")
    return said


@dataclass(frozen=True)
class FaultView:
    """What an operator needs of one active fault."""

    code: int
    rule: str
    source: str
    cause: str
    latched: bool


@dataclass(frozen=True)
class StatusView:
    """The latest safety status of one robot, as plain values."""

    level: int
    authority: int
    brake_engaged: bool
    faults: Sequence[FaultView]


def why_not_commandable(robot: str, status: StatusView | None, token_file: Path) -> str:
    """Which fault keeps ``robot`` from taking work, and how to clear it."""
    if status is None:
        return (f"{robot}: no safety status received — the safety supervisor is not running or not reachable "
                f"(see the fleet log)")
    head = (f"{robot}: {LEVEL_NAMES.get(status.level, status.level)}, authority "
            f"{AUTHORITY_NAMES.get(status.authority, status.authority)}, brakes "
            f"{'engaged' if status.brake_engaged else 'released'}")
    if not status.faults:
        return f"{head}; no active fault (it may still be starting up)"
    lines = [head]
    for f in status.faults:
        how = (f"latched: clears only with an authorized reset — service /{robot}/safety/reset "
               f"(sigma_interfaces/srv/ResetSafety) with the token in {token_file}, once its cause is gone"
               if f.latched else "clears by itself when its cause goes away")
        lines.append(f"  fault {f.code} {f.rule} on {f.source or robot}: {f.cause} — {how}")
    return "\n".join(lines)
