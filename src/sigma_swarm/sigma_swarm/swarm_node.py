"""``swarm_node``: the robot's member of its site's swarm mesh, between Cyclone DDS and the robot's ROS graph.

Publishes ``swarm/state`` (SwarmState, latched), ``swarm/commands`` (accepted fenced leader commands) and
``diagnostics`` (drop rates: a rising rate of forged/replayed/unknown frames is safety-relevant). Takes
``swarm/leader_command``: leader-only work (e.g. task allocation) with the term it was computed for; it is broadcast
only if this robot still leads that very term with a valid lease. Takes ``swarm/member_report``: a report (e.g. task
status) sent to the leader this robot follows; the leader's node publishes the members' reports on ``swarm/reports``
(kind, payload, sender; ``term`` = the sender's term). Takes ``swarm/broadcast``: a message to every member
(e.g. this robot's traffic route), needing no leader; every other member's node publishes it on ``swarm/broadcasts``
(``sender`` = the member). The mesh runs in one thread of its own (it blocks
on the DDS wait set); ROS callbacks only hand messages over through a queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from sigma_interfaces.msg import SwarmCommand, SwarmState
from sigma_ros_common import realtime
from sigma_ros_common.qos import LATCHED, reliable
from sigma_ros_common.ros_params import load
from sigma_ros_common.spin import run
from sigma_swarm.core import ElectionParams, LeaderCommand, MemberBroadcast, MemberReport, Role, SwarmStatus
from sigma_swarm.runtime import RuntimeConfig, SwarmRuntime, load_signing_key
from sigma_swarm.settings import SwarmNodeSettings

ROLE_CODES = {Role.FOLLOWER: SwarmState.ROLE_FOLLOWER, Role.PRE_CANDIDATE: SwarmState.ROLE_PRE_CANDIDATE,
              Role.CANDIDATE: SwarmState.ROLE_CANDIDATE, Role.LEADER: SwarmState.ROLE_LEADER}


class SwarmNode(Node):
    def __init__(self) -> None:
        super().__init__("swarm")
        self.s: SwarmNodeSettings = load(self, SwarmNodeSettings)
        self.election: ElectionParams = load(self, ElectionParams, "election")
        self.robot_id = self.s.robot_id or self.get_namespace().strip("/") or "robot"
        self.state_pub = self.create_publisher(SwarmState, "swarm/state", LATCHED)
        self.command_pub = self.create_publisher(SwarmCommand, "swarm/commands", reliable(50))
        self.diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", reliable(10))
        self.create_subscription(SwarmCommand, "swarm/leader_command", self._on_leader_command, reliable(10))
        self.report_pub = self.create_publisher(SwarmCommand, "swarm/reports", reliable(50))
        self.create_subscription(SwarmCommand, "swarm/member_report", self._on_member_report, reliable(10))
        self._report_outbox: queue.Queue[SwarmCommand] = queue.Queue(maxsize=100)
        self.broadcast_pub = self.create_publisher(SwarmCommand, "swarm/broadcasts", reliable(50))
        self.create_subscription(SwarmCommand, "swarm/broadcast", self._on_member_broadcast, reliable(10))
        self._broadcast_outbox: queue.Queue[SwarmCommand] = queue.Queue(maxsize=100)
        self._outbox: queue.Queue[SwarmCommand] = queue.Queue(maxsize=100)
        self._status: SwarmStatus | None = None
        self._counters: dict[str, int] = {}
        self._problem = ""
        self._last_drops = (time.monotonic(), 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._mesh_loop, name="swarm-mesh", daemon=True)
        self._thread.start()
        self.create_timer(self.s.state_period_s, self._periodic)

    def _path(self, template: str) -> Path:
        return Path(template.replace("{robot_id}", self.robot_id))

    # ------------------------------------------------------------------ mesh thread

    def _make_runtime(self) -> SwarmRuntime | None:
        if not self.s.cloud_roster_key:
            self._problem = "no cloud_roster_key configured: the swarm mesh is off"
            return None
        try:
            key = load_signing_key(self._path(self.s.key_file))
            config = RuntimeConfig(self.s.site, self.robot_id, self.s.swarm_domain_id,
                                   self._path(self.s.roster_file), self.s.cloud_roster_key,
                                   self._path(self.s.state_file), self.election, self.s.localhost_only,
                                   self.s.roster_poll_s, self.s.broadcast_tags)
            return SwarmRuntime(config, key, on_status=self._on_status, on_command=self._on_command,
                                on_report=self._on_report, on_broadcast=self._on_broadcast)
        except (ValueError, OSError) as exc:  # RosterError is a ValueError; retried until it works
            self._problem = str(exc)
            return None

    def _mesh_loop(self) -> None:
        runtime = None
        logged = ""
        while not self._stop.is_set() and runtime is None:
            runtime = self._make_runtime()
            if runtime is None:
                if not self.s.cloud_roster_key:  # read-only parameter: this will not change while we run
                    self.get_logger().warning(f"swarm mesh not started: {self._problem}")
                    return
                if self._problem != logged:
                    self.get_logger().warning(f"swarm mesh not started: {self._problem} (retrying)")
                    logged = self._problem
                self._stop.wait(1.0)
        if runtime is None:
            return
        self._problem = ""
        self.get_logger().info(f"swarm member {self.robot_id} of site {self.s.site} on Cyclone DDS domain "
                               f"{self.s.swarm_domain_id}, roster version {runtime.roster.version}")
        next_counters = 0.0
        try:
            while not self._stop.is_set():
                try:
                    runtime.step(0.2)
                except Exception as exc:  # noqa: BLE001 - the mesh thread must outlive any one bad step
                    self._problem = f"swarm mesh step failed: {type(exc).__name__}: {exc}"
                    self.get_logger().error(self._problem, throttle_duration_sec=10.0)
                    self._stop.wait(0.05)
                    continue
                self._problem = ""
                while not self._outbox.empty():
                    self._send_leader_command(runtime, self._outbox.get_nowait())
                while not self._report_outbox.empty():
                    msg = self._report_outbox.get_nowait()
                    if runtime.member_report(msg.kind, bytes(msg.payload)) is None:
                        self.get_logger().debug(f"report {msg.kind!r} dropped: no leader to send it to")
                while not self._broadcast_outbox.empty():
                    msg = self._broadcast_outbox.get_nowait()
                    runtime.member_broadcast(msg.kind, bytes(msg.payload))
                now = time.monotonic()
                if now >= next_counters:  # read by the diagnostics timer (state_period_s): no need per frame
                    self._counters = runtime.counters()
                    next_counters = now + min(0.5, self.s.state_period_s / 2)
        finally:
            runtime.close()

    def _send_leader_command(self, runtime: SwarmRuntime, msg: SwarmCommand) -> None:
        if msg.term != runtime.member.term:
            self.get_logger().warning(f"leader command {msg.kind!r} for term {msg.term} refused: "
                                      f"the current term is {runtime.member.term}")
            return
        if runtime.leader_command(msg.kind, bytes(msg.payload)) is None:
            self.get_logger().warning(f"leader command {msg.kind!r} refused: this robot does not lead term "
                                      f"{msg.term} with a valid lease")

    def _on_status(self, status: SwarmStatus) -> None:
        self._status = status
        self._publish_state()

    def _on_command(self, cmd: LeaderCommand) -> None:
        out = SwarmCommand(sender=cmd.sender, term=cmd.term, seq=cmd.seq, kind=cmd.kind, payload=list(cmd.payload))
        out.header.stamp = self.get_clock().now().to_msg()
        self.command_pub.publish(out)

    def _on_report(self, report: MemberReport) -> None:
        out = SwarmCommand(sender=report.sender, term=report.term, seq=report.seq, kind=report.kind,
                           payload=list(report.payload))
        out.header.stamp = self.get_clock().now().to_msg()
        self.report_pub.publish(out)

    def _on_broadcast(self, broadcast: MemberBroadcast) -> None:
        out = SwarmCommand(sender=broadcast.sender, term=broadcast.term, seq=broadcast.seq, kind=broadcast.kind,
                           payload=list(broadcast.payload))
        out.header.stamp = self.get_clock().now().to_msg()
        self.broadcast_pub.publish(out)

    # ------------------------------------------------------------------ ROS side

    def _on_member_broadcast(self, msg: SwarmCommand) -> None:
        try:
            self._broadcast_outbox.put_nowait(msg)
        except queue.Full:
            self.get_logger().warning("broadcast queue full; broadcast dropped")

    def _on_member_report(self, msg: SwarmCommand) -> None:
        try:
            self._report_outbox.put_nowait(msg)
        except queue.Full:
            self.get_logger().warning("member report queue full; report dropped")

    def _on_leader_command(self, msg: SwarmCommand) -> None:
        try:
            self._outbox.put_nowait(msg)
        except queue.Full:
            self.get_logger().warning("leader command queue full; command dropped")

    def _publish_state(self) -> None:
        msg = SwarmState(site=self.s.site, robot_id=self.robot_id)
        msg.header.stamp = self.get_clock().now().to_msg()
        status = self._status
        if status is not None:
            msg.role = ROLE_CODES[status.role]
            msg.term = status.term
            msg.leader = status.leader
            msg.lease_valid = status.lease_valid
            msg.members = list(status.members)
            msg.suspected = list(status.suspected)
            msg.roster_version = status.roster_version
            msg.roster_transition = status.roster_transition
        counters = self._counters
        msg.frames_accepted = counters.get("accepted", 0)
        msg.frames_dropped = sum(v for k, v in counters.items() if k.startswith("drop_"))
        self.state_pub.publish(msg)

    def _periodic(self) -> None:
        self._publish_state()
        now = time.monotonic()
        dropped = sum(v for k, v in self._counters.items() if k.startswith("drop_"))
        then, before = self._last_drops
        rate = (dropped - before) / max(now - then, 1e-3)
        self._last_drops = (now, dropped)
        level, text = DiagnosticStatus.OK, "mesh healthy"
        if self._problem:
            level, text = DiagnosticStatus.WARN, self._problem
        elif rate > self.s.drop_error_rate:
            level, text = DiagnosticStatus.ERROR, f"{rate:.1f} dropped frames/s: possible spoofing or replay attack"
        elif rate > self.s.drop_warn_rate:
            level, text = DiagnosticStatus.WARN, f"{rate:.1f} dropped frames/s"
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: swarm mesh", message=text,
                                  hardware_id=self.robot_id)
        status.values = [KeyValue(key=k, value=str(v)) for k, v in sorted(self._counters.items())]
        status.values.append(KeyValue(key="drop_rate_per_s", value=f"{rate:.2f}"))
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)


def main(args: list[str] | None = None) -> int:
    """Entry point (sigma_ros_common.spin.run: a Ctrl-C during start-up is a clean exit too)."""

    def start(nodes: Sequence[Node]) -> None:
        for node in nodes:
            if isinstance(node, SwarmNode):  # the mesh thread exists already or inherits the main thread's nice
                realtime.apply_nice(node.get_logger(), node.s.nice)

    def stop(nodes: Sequence[Node]) -> None:
        for node in nodes:
            if isinstance(node, SwarmNode):
                node.shutdown()

    return run("swarm_node", lambda: [SwarmNode()], args, on_start=start, on_exit=stop)


if __name__ == "__main__":
    main()
