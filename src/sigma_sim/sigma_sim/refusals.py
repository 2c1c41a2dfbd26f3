"""Which refused driver commands to log: a driver must ignore commands while its brake is engaged (the safety gate
keeps re-asserting zero commands then), and a stream of invalid commands must not flood the log.

Pure: the caller passes the time. A refusal while braked is reported once per brake engagement; any other refusal
(bad joint name, target outside the limits) the first time and then at most once per ``period_s`` per robot, topic
and reason (its text with the numbers taken out), with the number suppressed in between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class _Entry:
    last: float
    suppressed: int = 0


class RefusalLog:
    """Rate limiter for command refusals, keyed by (robot, topic, kind)."""

    def __init__(self, period_s: float = 10.0) -> None:
        if period_s <= 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.period_s = period_s
        self._entries: dict[tuple[str, str, str, str], _Entry] = {}

    def report(self, robot: str, topic: str, braked: bool, now: float, reason: str = "") -> tuple[bool, int]:
        """(log this refusal?, refusals suppressed since the last one logged)."""
        key = (robot, topic, "braked", "") if braked else (robot, topic, "invalid", _NUMBER.sub("#", reason))
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(now)
            return True, 0
        if not braked and now - entry.last >= self.period_s:
            suppressed, entry.last, entry.suppressed = entry.suppressed, now, 0
            return True, suppressed
        entry.suppressed += 1
        return False, entry.suppressed

    def brake_released(self, robot: str) -> int:
        """Forget the robot's braked refusals (the next engagement reports again); returns how many were ignored."""
        ignored = 0
        for key in [k for k in self._entries if k[0] == robot and k[2] == "braked"]:
            ignored += self._entries.pop(key).suppressed + 1
        return ignored
