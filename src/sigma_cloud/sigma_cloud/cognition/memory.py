"""Session memory per robot: the bounded recent context the decision rules read (pure; stored as JSON per robot in
cognition_cursor.memory, so any worker can pick a robot up where another left it)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MAX_WINDOWS = 64     # summaries of consumed telemetry kept per robot
MAX_TEMPERATURES = 32  # (ts, hottest actuator temperature) samples kept for the trend
MAX_HUMAN_EVENTS = 16


@dataclass(frozen=True)
class Window:
    """What one worker pass saw of a robot's new telemetry: event-time span, events, and per channel the
    highest score and the share of events at or above the anomaly threshold."""

    t_start: float
    t_end: float
    events: int
    peak: dict[str, float]
    high_share: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"t0": self.t_start, "t1": self.t_end, "n": self.events, "peak": self.peak, "high": self.high_share}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Window:
        return Window(float(data["t0"]), float(data["t1"]), int(data["n"]),
                      {str(k): float(v) for k, v in data["peak"].items()},
                      {str(k): float(v) for k, v in data["high"].items()})


@dataclass(frozen=True)
class SessionMemory:
    """Recent context of one robot. `anomaly_since`: event time the current anomalous streak began (None: no
    streak); `fired`: rule -> when it last fired (cool-down); `temperatures`: (ts, hottest actuator) for trends."""

    windows: tuple[Window, ...] = ()
    anomaly_since: float | None = None
    fired: dict[str, float] = field(default_factory=dict)
    temperatures: tuple[tuple[float, float], ...] = ()
    human_events: tuple[tuple[float, float, float], ...] = ()  # (ts, x, y) of person-related safety events

    def to_json(self) -> dict[str, Any]:
        """A JSON document (bounded by the MAX_* limits)."""
        return {"windows": [w.to_json() for w in self.windows], "anomaly_since": self.anomaly_since,
                "fired": self.fired, "temperatures": [list(t) for t in self.temperatures],
                "human_events": [list(h) for h in self.human_events]}

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
                                   for t, x, y in data.get("human_events", []))[-MAX_HUMAN_EVENTS:])
        except (KeyError, TypeError, ValueError, AttributeError):
            return SessionMemory()

    def remember(self, window: Window | None, *, anomalous: bool, temperature: tuple[float, float] | None,
                 human_events: tuple[tuple[float, float, float], ...] = ()) -> SessionMemory:
        """The memory after one pass: the window appended (oldest dropped), the anomaly streak extended or ended."""
        windows = self.windows if window is None else (*self.windows, window)[-MAX_WINDOWS:]
        since = self.anomaly_since
        if window is not None:
            since = (since if since is not None else window.t_start) if anomalous else None
        temps = self.temperatures
        if temperature is not None and (not temps or temperature[0] > temps[-1][0]):
            temps = (*temps, temperature)[-MAX_TEMPERATURES:]
        humans = (*self.human_events, *human_events)[-MAX_HUMAN_EVENTS:]
        return replace(self, windows=windows, anomaly_since=since, temperatures=temps, human_events=humans)

    def fire(self, rule: str, now: float) -> SessionMemory:
        """Record that `rule` acted at `now` (starts its cool-down)."""
        return replace(self, fired={**self.fired, rule: now})
