"""Per-channel downsampling of telemetry to configured rates (time passed in, no clock of its own)."""

from __future__ import annotations

from collections.abc import Mapping


class Downsampler:
    """Lets at most ``rate`` samples per second through on each channel; a rate of 0 lets every sample through.

    A sample is kept when at least ``1/rate`` seconds passed since the last kept one on its channel, so the
    kept stream never exceeds the rate and follows the input when it is slower. ``force=True`` keeps a sample
    regardless (used for on-change samples such as a new safety level).
    """

    def __init__(self, rates: Mapping[str, float]) -> None:
        for ch, r in rates.items():
            if r < 0:
                raise ValueError(f"downsample rate for channel {ch!r} must be >= 0 Hz, got {r}")
        self._period = {ch: (1.0 / r if r > 0 else 0.0) for ch, r in rates.items()}
        self._last: dict[str, float] = {}
        self.seen: dict[str, int] = {}
        self.kept: dict[str, int] = {}

    def due(self, channel: str, now: float) -> bool:
        """Whether ``accept`` would keep a sample on ``channel`` now (nothing is counted or changed)."""
        last = self._last.get(channel)
        return last is None or now - last >= self._period[channel] or now < last

    def accept(self, channel: str, now: float, *, force: bool = False) -> bool:
        """Whether the sample on ``channel`` at time ``now`` [s] is kept; unknown channels raise KeyError."""
        period = self._period.get(channel)
        if period is None:
            raise KeyError(f"no downsample rate configured for channel {channel!r}")
        self.seen[channel] = self.seen.get(channel, 0) + 1
        last = self._last.get(channel)
        # A clock that jumped back (e.g. a restarted sim clock) restarts the channel's schedule.
        if force or last is None or now - last >= period or now < last:
            self._last[channel] = now
            self.kept[channel] = self.kept.get(channel, 0) + 1
            return True
        return False
