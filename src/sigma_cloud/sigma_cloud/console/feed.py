"""The live picture of one site, as the console streams it: a pure state that turns database rows into deltas.

The site's feed (hub.py) polls the database and calls `apply_latest` / `apply_tasks` / `apply_leader`; each returns
the part that changed, which every browser watching the site receives. A new browser first gets `snapshot()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

# Channels the map needs (sigma_protocol.channels.CHANNEL_IDS order is part of the protocol).
FEED_CHANNELS = ("battery", "odom", "safety_status", "task_status", "humans")
MAX_HUMANS = 64  # people drawn per robot (the protocol allows 256 per report)
TASK_FIELDS = ("task_id", "kind", "state", "robot_id", "pickup", "dropoff", "place", "priority", "reason",
               "created_by", "created_at", "updated_at")


def yaw_of(quaternion: Any) -> float | None:
    """Heading [rad] of an [x, y, z, w] quaternion, or None when malformed."""
    if not isinstance(quaternion, list) or len(quaternion) != 4:
        return None
    x, y, z, w = quaternion
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def humans_in_map(payload: dict[str, Any], pose: dict[str, Any]) -> list[list[Any]] | None:
    """The people of a `humans` report as [x, y, tracker id] in the site map's frame, placed with the robot's pose
    (`x`, `y`, `yaw`: its odometry, which coincides with the map frame in the simulated sites); None when the report
    is malformed."""
    xs, ys, names = payload.get("x"), payload.get("y"), payload.get("name")
    if not (isinstance(xs, list) and isinstance(ys, list) and isinstance(names, list)) or len(xs) != len(ys):
        return None
    c, s = math.cos(pose["yaw"]), math.sin(pose["yaw"])
    out = []
    for i, (dx, dy) in enumerate(zip(xs[:MAX_HUMANS], ys[:MAX_HUMANS], strict=False)):
        name = names[i] if i < len(names) and isinstance(names[i], str) else ""
        out.append([round(pose["x"] + c * dx - s * dy, 2), round(pose["y"] + s * dx + c * dy, 2), name])
    return out


def robot_fields(channel: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The few values of one channel's payload that the map and lists show."""
    if channel == "odom":
        pos = payload.get("position")
        if not isinstance(pos, list) or len(pos) < 2:
            return {}
        linear = payload.get("linear")
        speed = math.hypot(*linear[:2]) if isinstance(linear, list) and len(linear) >= 2 else None
        yaw = yaw_of(payload.get("orientation")) or 0.0
        return {"x": round(pos[0], 3), "y": round(pos[1], 3), "yaw": round(yaw, 3),
                "speed": None if speed is None else round(speed, 3)}
    if channel == "safety_status":
        faults = payload.get("active_faults") or []
        return {"level": payload.get("level"), "authority": payload.get("authority"),
                "faults": [f.get("rule") or f.get("cause") or str(f.get("code")) for f in faults][:8]}
    if channel == "battery":
        return {"battery": payload.get("percentage")}
    if channel == "task_status":
        return {"task_id": payload.get("task_id"), "task_state": payload.get("state"),
                "task_progress": payload.get("progress")}
    return {}


@dataclass
class SiteState:
    """Everything the console shows live about one site, and the seq of each robot's channels already seen."""

    robots: dict[str, dict[str, Any]] = field(default_factory=dict)
    seqs: dict[tuple[str, str], int] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    leader: dict[str, Any] | None = None
    unplaced: dict[str, tuple[str, str, int, str, float]] = field(default_factory=dict)  # humans of robots without pose

    def apply_latest(self, rows: list[tuple[str, str, int, str, float]]) -> dict[str, dict[str, Any]]:
        """Rows (robot_id, channel name, seq, payload JSON text, ts [UNIX s]): the robots whose shown values changed.

        People (`humans`) are placed on the map with the robot's pose when their report arrives (they do not move
        with the robot afterwards) and carry the report's time (`humans_ts`), so the page can show their age."""
        changed: dict[str, dict[str, Any]] = {}
        rows = [*rows, *self.unplaced.values()]
        self.unplaced = {}
        # Poses first: a humans report read in the same poll is placed with the robot's newest pose.
        for robot_id, channel, seq, payload_text, ts in sorted(rows, key=lambda r: r[1] == "humans"):
            key = (robot_id, channel)
            if self.seqs.get(key) == seq:
                continue
            try:
                payload = orjson.loads(payload_text)
                if channel == "humans":
                    pose = self.robots.get(robot_id, {})
                    if pose.get("x") is None:  # no pose yet: kept until the robot's odometry has been read
                        self.unplaced[robot_id] = (robot_id, channel, seq, payload_text, ts)
                        continue
                    people = humans_in_map(payload, pose)
                    fields: dict[str, Any] = {} if people is None else {"humans": people, "humans_ts": round(ts, 3)}
                else:
                    fields = robot_fields(channel, payload)
            except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
                fields = {}
            self.seqs[key] = seq
            if not fields:
                continue
            robot = self.robots.setdefault(robot_id, {"robot_id": robot_id})
            delta = {k: v for k, v in fields.items() if robot.get(k) != v}
            if delta:
                robot.update(delta)
                changed.setdefault(robot_id, {"robot_id": robot_id}).update(delta)
        return changed

    def apply_tasks(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Task rows (TASK_FIELDS): those new or changed since last seen."""
        changed = []
        for row in rows:
            task = {k: (str(row[k]) if k in ("task_id",) or k.endswith("_at") else row[k])
                    for k in TASK_FIELDS if k in row}
            if self.tasks.get(task["task_id"]) != task:
                self.tasks[task["task_id"]] = task
                changed.append(task)
        return changed

    def apply_leader(self, row: tuple[str, int] | None) -> dict[str, Any] | None:
        """The site's leader (robot_id, term): returned when it changed."""
        leader = None if row is None else {"robot_id": row[0], "term": row[1]}
        if leader == self.leader:
            return None
        self.leader = leader
        return leader or {"robot_id": None, "term": None}

    def snapshot(self, now: float, max_tasks: int = 500) -> dict[str, Any]:
        """The whole picture for a browser that just connected (the newest `max_tasks` tasks); `now` [UNIX s] lets
        the page show ages (of people seen) against the server's clock."""
        tasks = sorted(self.tasks.values(), key=lambda t: t.get("created_at") or "", reverse=True)[:max_tasks]
        return {"robots": list(self.robots.values()), "tasks": tasks, "leader": self.leader, "server_time": now}
