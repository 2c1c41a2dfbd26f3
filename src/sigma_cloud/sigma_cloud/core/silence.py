"""Which robots fell silent and which came back: the pure decision of the automated incident response (no I/O;
time passed in). The runner (core/incident_response.py) reads the inputs and carries out the plan."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RobotSeen:
    """An active robot: when it was last heard (None: never) and registered [s since the epoch]."""

    robot_id: str
    site_id: str
    last_seen: float | None
    registered_at: float

    @property
    def heard(self) -> float:
        """When it was last heard from, or registered if never."""
        return self.last_seen if self.last_seen is not None else self.registered_at


@dataclass(frozen=True)
class Episode:
    """An open silence episode: the robot has been silent since `since`."""

    robot_id: str
    site_id: str
    since: float


@dataclass(frozen=True)
class Plan:
    """What to do now: open an episode for each robot that went silent, close those that came back."""

    went_silent: tuple[RobotSeen, ...]
    came_back: tuple[Episode, ...]


def plan(robots: list[RobotSeen], open_episodes: dict[str, Episode], now: float, silent_after_s: float) -> Plan:
    """Compare each robot's last contact with the threshold; each episode is opened once and closed once."""
    if silent_after_s <= 0:
        raise ValueError(f"silent_after_s must be > 0, got {silent_after_s}")
    active = {r.robot_id: r for r in robots}
    went = tuple(r for r in robots if now - r.heard > silent_after_s and r.robot_id not in open_episodes)
    back = tuple(e for e in open_episodes.values()
                 if e.robot_id not in active  # decommissioned (or gone): nothing left to watch
                 or ((seen := active[e.robot_id].last_seen) is not None and seen > e.since))
    return Plan(went, back)


def silent_message(robot: RobotSeen, now: float, requeued: int) -> str:
    """The notification text for a robot that fell silent."""
    heard = "never heard from" if robot.last_seen is None else f"silent for {now - robot.last_seen:.0f} s"
    tasks = f"its {requeued} open task(s) went back to the queue for re-allocation" if requeued else "it held no task"
    return f"robot {robot.robot_id} at site {robot.site_id} is {heard}; {tasks}"


def back_message(episode: Episode, now: float) -> str:
    """The notification text for a robot heard again."""
    return f"robot {episode.robot_id} at site {episode.site_id} is heard again after {now - episode.since:.0f} s"
