"""Session memory per robot: the bounded recent context the decision rules read (pure; stored as JSON per robot in
cognition_cursor.memory, so any worker can pick a robot up where another left it)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MAX_WINDOWS = 64     # summaries of consumed telemetry kept per robot
MAX_TEMPERATURES = 32  # (ts, hottest actuator temperature) samples kept for the trend
MAX_HUMAN_EVENTS = 16
MAX_STREAKS = 16  # channels with an open anomaly streak (there are 10 channels)


@dataclass(frozen=True)
class Window:
    """What one worker pass saw of a robot's new telemetry: event-time span, events, and per channel the
    highest score, the share of events at or above the anomaly threshold and the event times of the first and last
    of those (`high_span`; a channel without one, or an older summary, falls back to the pass's span)."""

    t_start: float
    t_end: float
    events: int
    peak: dict[str, float]
    high_share: dict[str, float]
    high_span: dict[str, tuple[float, float]] = field(default_factory=dict)

    def span(self, channel: str) -> tuple[float, float]:
        """(first, last) event time of the channel's anomalous events in this pass."""
        return self.high_span.get(channel, (self.t_start, self.t_end))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"t0": self.t_start, "t1": self.t_end, "n": self.events, "peak": self.peak,
                               "high": self.high_share}
        if self.high_span:
            doc["span"] = {c: list(v) for c, v in self.high_span.items()}
        return doc

    @staticmethod
    def from_json(data: dict[str, Any]) -> Window:
        return Window(float(data["t0"]), float(data["t1"]), int(data["n"]),
                      {str(k): float(v) for k, v in data["peak"].items()},
                      {str(k): float(v) for k, v in data["high"].items()},
                      {str(k): (float(a), float(b)) for k, (a, b) in data.get("span", {}).items()})


@dataclass(frozen=True)
class SessionMemory:
    """Recent context of one robot. `anomaly_since`: event time the current anomalous streak began (None: no
    streak); `fired`: rule -> when it last fired (cool-down); `temperatures`: (ts, hottest actuator) for trends."""

    windows: tuple[Window, ...] = ()
    anomaly_since: float | None = None
    fired: dict[str, float] = field(default_factory=dict)
    temperatures: tuple[tuple[float, float], ...] = ()
    human_events: tuple[tuple[float, float, float], ...] = ()  # (ts, x, y) of person-related safety events
    # channel -> (event time of its first anomalous event, of its latest one, peak score in the streak)
    streaks: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON document (bounded by the MAX_* limits)."""
        return {"windows": [w.to_json() for w in self.windows], "anomaly_since": self.anomaly_since,
                "fired": self.fired, "temperatures": [list(t) for t in self.temperatures],
                "human_events": [list(h) for h in self.human_events],
                "streaks": {c: list(v) for c, v in self.streaks.items()}}

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> SessionMemory:
        """Read a stored document; anything malformed starts an empty memory rather than failing the worker."""
        if not data:
            return SessionMemory()
        try:
            return SessionMemory(
                windows=tuple(Window.from_json(w) for w in data.get("windows", []))[-MAX_WINDOWS:],
                anomaly_since=None if data.get("anomaly_since") is None else float(data["anomaly_since"]),
                fired={str(k): float(v) for k, v in data.get("fired", {}).items()},
                temperatures=tuple((float(t), float(v)) for t, v in data.get("temperatures", []))[-MAX_TEMPERATURES:],
                human_events=tuple((float(t), float(x), float(y))
                                   for t, x, y in data.get("human_events", []))[-MAX_HUMAN_EVENTS:],
                streaks={str(c): (float(a), float(b), float(p))
                         for c, (a, b, p) in list(data.get("streaks", {}).items())[:MAX_STREAKS]})
        except (KeyError, TypeError, ValueError, AttributeError):
            return SessionMemory()

    def remember(self, window: Window | None, *, anomalous: bool, temperature: tuple[float, float] | None,
                 human_events: tuple[tuple[float, float, float], ...] = (), high_share: float | None = None,
                 gap_s: float = 0.0) -> SessionMemory:
        """The memory after one pass: the window appended (oldest dropped), the anomaly streak extended or ended.

        With `high_share`, streaks are kept per channel: a window where a channel has at least that share of
        anomalous events extends (or starts) its streak, one where the channel has events but fewer ends it, and a
        window without the channel's events (a 1-2 Hz channel is absent from many short passes) leaves it open
        for `gap_s` after its last anomalous window. A streak never bridges more than `gap_s` of event time the
        memory did not see: an anomalous window whose first anomalous event of the channel comes more than `gap_s`
        after the streak's last one starts a new streak (the worker was down, or the robot silent or restarted, in
        between). `anomaly_since` is then the oldest open streak's start."""
        windows = self.windows if window is None else (*self.windows, window)[-MAX_WINDOWS:]
        since = self.anomaly_since
        streaks = self.streaks
        if window is not None and high_share is not None:
            streaks = dict(streaks)
            for channel, share in window.high_share.items():
                if share >= high_share:  # the streak runs from its first anomalous event to its last one
                    first, last = window.span(channel)
                    open_ = streaks.get(channel)
                    if open_ is not None and first - open_[1] > gap_s:
                        open_ = None  # unseen event time in between: that streak ended there
                    begun, _, peak = open_ if open_ is not None else (first, 0.0, 0.0)
                    streaks[channel] = (begun, last, max(peak, window.peak.get(channel, 0.0)))
                else:
                    streaks.pop(channel, None)
            streaks = {c: s for c, s in streaks.items() if window.t_end - s[1] <= gap_s}
            since = min((s[0] for s in streaks.values()), default=None)
        elif window is not None:
            since = (since if since is not None else window.t_start) if anomalous else None
        temps = self.temperatures
        if temperature is not None and (not temps or temperature[0] > temps[-1][0]):
            temps = (*temps, temperature)[-MAX_TEMPERATURES:]
        humans = (*self.human_events, *human_events)[-MAX_HUMAN_EVENTS:]
        return replace(self, windows=windows, anomaly_since=since, temperatures=temps, human_events=humans,
                       streaks=streaks)

    def fire(self, rule: str, now: float) -> SessionMemory:
        """Record that `rule` acted at `now` (starts its cool-down)."""
        return replace(self, fired={**self.fired, rule: now})

    def forget(self, rule: str) -> SessionMemory:
        """Drop `rule`'s entry from `fired`."""
        return replace(self, fired={k: v for k, v in self.fired.items() if k != rule})
