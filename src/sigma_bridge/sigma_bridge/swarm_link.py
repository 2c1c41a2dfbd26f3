"""The bridge's part of the swarm mesh (docs/swarm.md): fetch the cloud-signed site roster for the swarm node, and
report leader changes seen on ``swarm/state`` to the cloud. Both over the device protocol (signed requests).

The bridge does not verify the roster: ``swarm_node`` does, with the cloud's roster key, before using it; the bridge
only writes what the cloud sent to ``roster_file`` (atomically, only when it changed).
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from rclpy.node import Node

from sigma_bridge.uplink import Backoff, UplinkClient
from sigma_bridge.workers import _Worker
from sigma_ros_common.params import param
from sigma_ros_common.qos import LATCHED
from sigma_ros_common.ros_params import load

ROSTER_PATH = "/v1/sites/{site}/roster"
LEADER_PATH = "/v1/sites/{site}/swarm/leader"


@dataclass(frozen=True)
class SwarmLinkSettings:
    """Parameters ``swarm.*`` of the bridge."""

    site: str = param("", description="site whose roster is fetched and whose leader changes are reported; "
                      "empty = off")
    roster_file: str = param("var/sigma_bridge/{robot_id}/roster.json", unit="path",
                             description="where the signed roster is written for swarm_node")
    roster_refresh_s: float = param(30.0, unit="s", low=1.0, high=86_400.0,
                                    description="roster fetch period (a revoked robot is out after at most this)")


class SwarmLink(_Worker):
    """Fetches the roster every ``refresh_s`` and posts queued leader reports."""

    def __init__(self, client: UplinkClient, site: str, roster_path: Path, refresh_s: float) -> None:
        super().__init__("bridge-swarm")
        self.client, self.site, self.roster_path, self.refresh_s = client, site, roster_path, refresh_s
        self.reports: queue.Queue[tuple[int, str]] = queue.Queue(maxsize=100)
        self.backoff = Backoff()
        self.counts = {"roster_fetched": 0, "roster_changed": 0, "leaders_reported": 0, "errors": 0}
        self._last_leader: tuple[int, str] = (-1, "")

    def on_state(self, term: int, leader: str) -> None:
        """Called from the ROS callback: queue a report when the (term, leader) pair changes."""
        if leader and (term, leader) != self._last_leader:
            self._last_leader = (term, leader)
            try:
                self.reports.put_nowait((term, leader))
            except queue.Full:
                self.counts["errors"] += 1

    def fetch_roster(self) -> bool:
        """GET the signed roster; write it if it differs from the file. True when the file changed."""
        r = self.client.request("GET", ROSTER_PATH.format(site=self.site), b"", time.time())
        if r.status_code != 200:
            raise RuntimeError(f"roster: HTTP {r.status_code} {r.text[:200]}")
        self.counts["roster_fetched"] += 1
        body = r.content
        if self.roster_path.exists() and self.roster_path.read_bytes() == body:
            return False
        self.roster_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.roster_path.with_suffix(".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, self.roster_path)
        self.counts["roster_changed"] += 1
        return True

    def report(self, term: int, leader: str) -> None:
        body = orjson.dumps({"term": term, "leader": leader})
        r = self.client.request("POST", LEADER_PATH.format(site=self.site), body, time.time())
        if r.status_code != 200:
            raise RuntimeError(f"leader report: HTTP {r.status_code} {r.text[:200]}")
        self.counts["leaders_reported"] += 1

    def run(self) -> None:
        next_fetch = 0.0
        pending: tuple[int, str] | None = None
        while not self.stop_event.is_set():
            try:
                if time.monotonic() >= next_fetch:
                    self.fetch_roster()
                    next_fetch = time.monotonic() + self.refresh_s
                if pending is None:
                    pending = self.reports.get(timeout=0.5)
                self.report(*pending)
                pending = None
                self.backoff.reset()
            except queue.Empty:
                continue
            except (httpx.HTTPError, RuntimeError, OSError) as exc:
                self.error = exc
                self.counts["errors"] += 1
                self.stop_event.wait(self.backoff.next_delay())


ROLES = ("follower", "pre_candidate", "candidate", "leader")  # SwarmState.ROLE_* in order


def view_values(msg: Any) -> dict[str, Any]:
    """The Foxglove JSON of a SwarmState (schema ``view_schemas.SWARM_STATE``)."""
    return {"role": ROLES[msg.role] if msg.role < len(ROLES) else "follower", "term": int(msg.term),
            "leader": msg.leader, "lease_valid": bool(msg.lease_valid), "members": list(msg.members),
            "suspected": list(msg.suspected), "roster_version": int(msg.roster_version),
            "frames_dropped": int(msg.frames_dropped)}


def attach(node: Node, robot_id: str, cloud_url: str, client: UplinkClient | None,
           view: Any = None, subscribe: Callable[..., Any] | None = None) -> SwarmLink | None:
    """Declare ``swarm.*`` and subscribe to ``swarm/state`` (shown in the live view when there is one) through
    ``subscribe`` (default: the node's executor); with a site and a cloud, return the (unstarted) link that fetches
    the roster and reports leader changes."""
    s = load(node, SwarmLinkSettings, "swarm")
    link = None
    if s.site and cloud_url and client is not None:
        link = SwarmLink(client, s.site, Path(s.roster_file.replace("{robot_id}", robot_id)), s.roster_refresh_s)
    if link is None and view is None:
        return None
    from sigma_interfaces.msg import SwarmState

    def on_state(msg: SwarmState) -> None:
        if link is not None:
            link.on_state(int(msg.term), msg.leader)
        if view is not None:
            view.swarm_state(view_values(msg), time.time_ns())

    # the bridge node keeps its subscriptions in _subs, which this helper extends on its behalf
    node._subs.append((subscribe or node.create_subscription)(SwarmState, "swarm/state", on_state, LATCHED))  # type: ignore[attr-defined]  # see above
    return link
