"""``fleet_tasks_node``: fleet tasks on every robot, between its ROS graph and the swarm node.

While ``swarm/state`` says this robot leads (term T, lease valid) it runs the site's allocation (``LeaderDuty``):
the cloud's ``fleet_task`` decisions from ``cognition/decisions`` and the members' snapshots from ``swarm/reports``
in, assignments and lease renewals out as fenced leader commands on ``swarm/leader_command`` (term T). On every
robot it turns a command addressed to itself from ``swarm/commands`` into a ``Task`` on its own ``tasks/request``
once ``AssignmentFence`` accepts the term, and forwards its executor's ``tasks/status`` as a snapshot to the leader
(``swarm/member_report``) together with what it can take on: its battery (``battery_state``), its executor's
payload limit (``tasks/status``), the twin's view (``twin/health``: a degraded motor, a maintenance window) and its
safety level (``safety/events``). On taking office it claims the site's leadership at the cloud (a worker thread:
``POST /v1/devices/<robot>/leadership``), so the cloud's tasks reach it through the decision downlink, and resumes
the open tasks the cloud answers with. One timer (``tick_period_s``); everything else is event-driven. Once the
swarm mesh is on it also relays traffic routes robot to robot over the signed mesh (``traffic_link.py``; no timer
of its own).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import rclpy
from builtin_interfaces.msg import Time
from httpx import HTTPError
from rclpy.node import Node
from sensor_msgs.msg import BatteryState

from sigma_core.core.sitemap import load_site
from sigma_core.core.tasks import FLEET_ACTIONS
from sigma_fleet_tasks import cloud_claim
from sigma_fleet_tasks.capability import CapabilityParams, CapabilityTracker
from sigma_fleet_tasks.duty import (
    ASSIGN,
    CANCEL,
    RENEW,
    SNAPSHOT,
    LeaderDuty,
    RobotDuty,
    assignment_payload,
    decode,
    encode,
    encode_snapshot,
    site_from_places,
)
from sigma_fleet_tasks.settings import FleetTasksSettings
from sigma_fleet_tasks.traffic_link import TrafficLink
from sigma_interfaces.msg import CognitionDecision, SafetyEvent, SwarmCommand, SwarmState, Task, TaskStatus, TwinHealth
from sigma_ros_common.qos import LATCHED, RELIABLE_10, SAFETY_EVENTS, reliable
from sigma_ros_common.ros_params import load
from sigma_ros_common.share import resolve_file
from sigma_ros_common.spin import run
from sigma_tasks.allocator import BoardParams

CLAIM_BACKOFF_MAX_S = 60.0  # a failing claim (cloud down, robot not registered) is retried at most this far apart


class FleetTasksNode(Node):
    def __init__(self) -> None:
        super().__init__("fleet_tasks")
        self.s: FleetTasksSettings = load(self, FleetTasksSettings)
        self.robot_id = self.s.robot_id or self.get_namespace().strip("/") or "robot"
        world = load_site(Path(resolve_file(self.s.world_file, "sigma_fleet_tasks", "world_file")))
        self.site = site_from_places((p.name, p.kind, p.x, p.y) for p in world.places.values())
        if self.s.start_place and self.s.start_place not in self.site.places:
            raise ValueError(f"parameter start_place: {self.s.start_place!r} is not a place of {self.s.world_file}")
        self.board = BoardParams(lease_s=self.s.lease_s, skew_s=self.s.skew_s)
        self.capability = CapabilityParams(nominal_voltage_v=self.s.nominal_voltage_v,
                                           default_payload_kg=self.s.default_payload_kg,
                                           degraded_health=self.s.degraded_health,
                                           degraded_risk=self.s.degraded_risk, hot_risk=self.s.hot_risk)
        self.robot = RobotDuty(self.robot_id, at=self.s.start_place, cap=CapabilityTracker(self.capability),
                               stop_grace_s=self.s.stop_grace_s, offer_grace_s=self.s.offer_grace_s,
                               cooldown_s=self.s.failed_cooldown_s)
        self.claims: queue.SimpleQueue[tuple[int, cloud_claim.ClaimResult]] = queue.SimpleQueue()
        self._claiming: int | None = None  # the term a claim thread works for
        self._claimed: int | None = None  # the term the cloud recorded this robot as leader of
        # the leader's outcome reports (why a task waits, an overdue task failed): one request in flight at a time
        self.outcome_results: queue.SimpleQueue[tuple[int, list[tuple[str, str, str]], str]] = queue.SimpleQueue()
        self._outcomes_busy = False
        self._outcomes_retry_at = 0.0
        self.leader: LeaderDuty | None = None
        self.last_records: dict | None = None  # the records of this robot's last board (a later term resumes them)
        self.swarm: SwarmState | None = None
        self.snapshots: dict[str, dict] = {}  # latest snapshot per member, kept for the next leader term
        self.pending: dict[str, tuple[str, dict[str, str]]] = {}  # task decisions that arrived before office
        self._next_report = 0.0
        self.traffic = TrafficLink(self, self.robot_id, self.s)
        self.request_pub = self.create_publisher(Task, "tasks/request", reliable(10))
        self.command_pub = self.create_publisher(SwarmCommand, "swarm/leader_command", reliable(10))
        self.report_pub = self.create_publisher(SwarmCommand, "swarm/member_report", reliable(10))
        self.create_subscription(SwarmState, "swarm/state", self._on_swarm_state, LATCHED)
        self.create_subscription(SwarmCommand, "swarm/commands", self._on_command, reliable(50))
        self.create_subscription(SwarmCommand, "swarm/reports", self._on_report, reliable(50))
        self.create_subscription(TaskStatus, "tasks/status", self._on_status, reliable(50))
        self.create_subscription(CognitionDecision, "cognition/decisions", self._on_decision, reliable(10))
        self.create_subscription(BatteryState, "battery_state", self._on_battery, RELIABLE_10)
        self.create_subscription(TwinHealth, "twin/health", self._on_twin, LATCHED)
        # safety/events, not the 20 Hz safety/status: one message per level change (transient local: the latest
        # transition reaches a restarted node), a fraction of the receive cost
        self.create_subscription(SafetyEvent, "safety/events", self._on_safety, SAFETY_EVENTS)
        self.create_timer(self.s.tick_period_s, self._tick)
        self.get_logger().info(f"fleet tasks ready on {self.robot_id}: {len(self.site.places)} places")

    # ------------------------------------------------------------------ swarm

    def _leads(self) -> bool:
        st = self.swarm
        return st is not None and st.role == SwarmState.ROLE_LEADER and st.lease_valid and st.leader == self.robot_id

    def _on_swarm_state(self, msg: SwarmState) -> None:
        before = (self.swarm.leader, self.swarm.term) if self.swarm else ("", 0)
        self.swarm = msg
        self.traffic.mesh_state(int(msg.roster_version))
        now = time.time()
        if self._leads() and (self.leader is None or self.leader.term != msg.term):
            self.snapshots[self.robot_id] = self.robot.snapshot(now)
            # What this robot's last board knew carries over (resumed like the cloud's record: corrected by the
            # robots' reports, unvouched tasks held until older leases ran out); else it waits for a cloud re-send.
            records = self.leader.tasks.board.records if self.leader is not None else self.last_records
            self.leader = LeaderDuty(self.site, leader=self.robot_id, term=msg.term, now=now, board=self.board,
                                     cooldown_s=self.s.failed_cooldown_s, snapshots=self.snapshots, records=records,
                                     capability=self.capability)
            for action, params in list(self.pending.values()):
                self._decide(action, params, now)
            self.pending.clear()
            self.get_logger().info(f"leading term {msg.term}: task allocation on")
            self._claim(int(msg.term))
        elif not self._leads() and self.leader is not None and msg.term != self.leader.term:
            self.get_logger().info(f"term {self.leader.term} over: task allocation off")
            self.last_records = self.leader.tasks.board.records
            self.leader = None
        if msg.leader and (msg.leader, msg.term) != before:
            self._send_snapshot(now)  # a new leader (or term) learns what this robot holds and finished

    # ------------------------------------------------------------------ the cloud's record

    def _claim(self, term: int) -> None:
        """Claim the site's leadership for `term` at the cloud on a worker thread, retried while this robot leads
        that term; the answer is applied on the node's thread (`_tick`)."""
        if not self.s.cloud_url or self._claiming == term:
            return
        self._claiming = term
        key_file = self.s.key_file.replace("{robot_id}", self.robot_id)
        threading.Thread(target=self._claim_worker, args=(term, key_file), name=f"claim-{term}", daemon=True).start()

    def _claim_worker(self, term: int, key_file: str) -> None:
        wait = self.s.claim_retry_s
        while rclpy.ok() and self.leader is not None and self.leader.term == term:
            try:
                result = cloud_claim.claim(self.s.cloud_url, self.robot_id, term, cloud_claim.read_seed(key_file),
                                           now=time.time(), timeout_s=10.0)
                self.claims.put((term, result))
                return
            except (OSError, ValueError, HTTPError) as exc:
                self.get_logger().warning(f"leadership claim for term {term} failed ({exc!r}); retrying in "
                                          f"{wait:.1f} s")
            time.sleep(wait)
            wait = min(2.0 * wait, CLAIM_BACKOFF_MAX_S)

    def _apply_claims(self, now: float) -> None:
        while not self.claims.empty():
            term, result = self.claims.get()
            if self.leader is None or self.leader.term != term:
                continue
            if not result.leader:
                self.get_logger().warning(f"the cloud records a newer leader than term {term}: not resuming its tasks")
                continue
            self._claimed = term
            self.get_logger().info(f"claimed term {term} at the cloud: resuming {len(result.open_tasks)} open tasks")
            for params in result.open_tasks:
                self._decide("fleet_task", params, now)
            for robot, tid in self.leader.resumed():
                self.get_logger().warning(f"{robot} reports holding {tid}, which the cloud's record does not list "
                                          "as open: no longer renewed (its lease runs out on the robot)")

    # ------------------------------------------------------------------ robot inputs

    def _on_battery(self, msg: BatteryState) -> None:
        self.robot.cap.on_battery(float(msg.percentage), float(msg.charge), float(msg.capacity))

    def _on_twin(self, msg: TwinHealth) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        start = msg.window_start.sec + msg.window_start.nanosec * 1e-9
        window = start - stamp if start > 0.0 else None
        self.robot.cap.on_twin([(c.name, float(c.health), float(c.risk)) for c in msg.actuators], window,
                               now=time.time(), modes={c.name: c.dominant_mode for c in msg.actuators})

    def _on_safety(self, msg: SafetyEvent) -> None:
        was = self.robot.cap.stopped
        self._let_go(self.robot.on_safety(int(msg.level), now=time.time()))
        if self.robot.cap.stopped != was:
            self._send_snapshot(time.time())  # the leader stops offering this robot work at once

    def _let_go(self, running: str | None) -> None:
        """The robot let its tasks go (stopped): cancel the running one at the executor, tell the leader."""
        if running is None and not self.robot.failed:
            return
        if running is not None:
            self.get_logger().warning(f"safety stop: letting {running} go")
            self.request_pub.publish(Task(task_id=running, issuer=f"swarm:{self.robot_id}", kind=Task.KIND_CANCEL,
                                          term=max(self.robot.fence.highest_term, 0)))
        self._send_snapshot(time.time())

    def _on_command(self, msg: SwarmCommand) -> None:
        if msg.kind not in (ASSIGN, RENEW, CANCEL):
            return
        try:
            payload = decode(bytes(msg.payload))
            self._apply_command(msg.kind, int(msg.term), payload)
        except (ValueError, KeyError, TypeError) as exc:
            self.get_logger().warning(f"leader command {msg.kind!r} from {msg.sender} ignored: {exc}")

    def _apply_command(self, kind: str, term: int, payload: dict) -> None:
        why = self.robot.on_command(kind, term, payload, now=time.time())
        if kind in (ASSIGN, CANCEL) and payload.get("robot") == self.robot_id:
            self.get_logger().info(f"{'assignment' if kind == ASSIGN else 'cancel of'} {payload.get('task')} "
                                   f"(term {term}): {why}")
        running = self.robot.take_cancel()
        if running is not None:
            self.request_pub.publish(Task(task_id=running, issuer=f"swarm:{self.robot_id}", kind=Task.KIND_CANCEL,
                                          term=max(self.robot.fence.highest_term, 0)))
        self._feed_executor()

    def _on_report(self, msg: SwarmCommand) -> None:
        if msg.kind != SNAPSHOT:
            return
        try:
            snap = decode(bytes(msg.payload))
        except ValueError as exc:
            self.get_logger().warning(f"report from {msg.sender} ignored: {exc}")
            return
        if self.leader is not None:
            if self.snapshots.get(msg.sender, {}).get("cap") != snap.get("cap") or msg.sender not in self.leader.heard:
                self.get_logger().info(f"{msg.sender} reports to term {self.leader.term}: at "
                                       f"{snap.get('at') or '?'}, capability {snap.get('cap', {})}")
            try:
                changes = self.leader.on_snapshot(msg.sender, snap, now=time.time())
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                self.get_logger().warning(f"malformed task snapshot from {msg.sender} ignored: {exc!r}")
                return
            self._log_changes(msg.sender, changes)
        self.snapshots[msg.sender] = snap

    def _log_changes(self, robot: str, changes: list[tuple[str, str, str]]) -> None:
        for task_id, was, now_state in changes:  # once per change of a task's state: the leader's record
            self.get_logger().info(f"task {task_id}: {was} -> {now_state} ({robot}'s report, term "
                                   f"{self.leader.term if self.leader else '?'})")

    def _send_snapshot(self, now: float) -> None:
        snap = self.robot.snapshot(now)
        self._next_report = now + self.s.report_period_s
        self.snapshots[self.robot_id] = snap
        if self.leader is not None:
            self._log_changes(self.robot_id, self.leader.on_snapshot(self.robot_id, snap, now=now))
        elif self.swarm is not None and self.swarm.leader:
            self.report_pub.publish(SwarmCommand(term=self.swarm.term, kind=SNAPSHOT,
                                                 payload=list(encode_snapshot(snap))))
        else:
            return  # nobody to tell: failures stay to be reported to the next leader
        self.robot.snapshot_sent()

    # ------------------------------------------------------------------ cloud decisions

    def _on_decision(self, msg: CognitionDecision) -> None:
        if msg.action not in FLEET_ACTIONS:
            return  # sigma_core's actions
        params = {kv.key: kv.value for kv in msg.parameters}
        if self.leader is None:
            if len(self.pending) < 1000:
                self.pending[params.get("task_id", "")] = (msg.action, params)
            return
        self._decide(msg.action, params, time.time())

    def _decide(self, action: str, params: dict[str, str], now: float) -> None:
        why = self.leader.on_decision(action, params, now=now) if self.leader else "not leading"
        if why:
            self.get_logger().warning(f"decision {action} {params.get('task_id', '?')} refused: {why}")
        self._send_cancels()

    def _send_cancels(self) -> None:
        """The leader's pending cancels (cancelled at the cloud, or taken away from a degraded robot) as commands."""
        for robot, task_id in self.leader.take_cancels() if self.leader else ():
            self.get_logger().info(f"cancel {task_id} at {robot} (term {self.leader.term}): cancelled or taken away "
                                   "at the cloud")
            payload = {"robot": robot, "task": task_id}
            if robot == self.robot_id:
                self._apply_command(CANCEL, self.leader.term, payload)
            else:
                self.command_pub.publish(SwarmCommand(term=self.leader.term, kind=CANCEL,
                                                      payload=list(encode(payload))))

    # ------------------------------------------------------------------ executor

    def _feed_executor(self) -> None:
        spec = self.robot.next_request()
        if spec is None:
            return
        msg = Task(task_id=spec["task"], issuer=spec.get("issuer", "swarm"), kind=int(spec["kind"]),
                   place=spec.get("place", ""), pickup=spec.get("pickup", ""), dropoff=spec.get("dropoff", ""),
                   payload_mass=float(spec.get("mass", 0.0)), priority=int(spec.get("prio", 0)),
                   charge_to=float(spec.get("charge_to") or 0.0), term=int(spec["term"]))
        deadline = float(spec.get("deadline") or 0.0)
        if deadline > 0:
            msg.deadline = Time(sec=int(deadline), nanosec=int((deadline % 1) * 1e9))
        msg.header.stamp = self.get_clock().now().to_msg()
        self.request_pub.publish(msg)

    def _on_status(self, msg: TaskStatus) -> None:
        self.robot.cap.on_payload_limit(float(msg.payload_limit))
        if self.robot.on_status(msg.task_id, msg.state, msg.reason, now=time.time()):
            self._send_snapshot(time.time())
            self._feed_executor()

    # ------------------------------------------------------------------ the one timer

    def _tick(self) -> None:
        now = time.time()
        self.traffic.tick(now)  # peers' routes, should this robot's own route (which drives them) have stopped
        expired = self.robot.expire(now)
        if expired is not None:
            self.get_logger().warning(f"lease of {expired} ran out without renewal: cancelling it")
            self.request_pub.publish(Task(task_id=expired, issuer=f"swarm:{self.robot_id}", kind=Task.KIND_CANCEL,
                                          term=max(self.robot.fence.highest_term, 0)))
        if self.robot.cap.stopped:
            self._let_go(self.robot.on_safety(self.robot.cap.safety_level, now=now))
        self._apply_claims(now)
        if now >= self._next_report:
            self._send_snapshot(now)
        if self.leader is not None and self._leads():
            self._lead(now)
            self._send_cancels()
            self._report_outcomes(now)
        self._feed_executor()

    def _report_outcomes(self, now: float) -> None:
        """Tell the cloud's record what only the leader knows (why a queued task waits; an overdue one failed), on a
        worker thread, once this term's claim is recorded; a 409 (a newer leader) drops them."""
        leader = self.leader
        while not self.outcome_results.empty():
            term, items, result = self.outcome_results.get()
            self._outcomes_busy = False
            if result == "error" and leader is not None and leader.term == term:
                for tid, outcome, why in items:  # retried later unless something newer replaced it
                    leader.outcomes.setdefault(tid, (outcome, why))
                self._outcomes_retry_at = now + self.s.claim_retry_s
        if (not self.s.cloud_url or leader is None or self._claimed != leader.term or self._outcomes_busy
                or now < self._outcomes_retry_at or not leader.outcomes):
            return
        items = leader.take_outcomes()
        self._outcomes_busy = True
        key_file = self.s.key_file.replace("{robot_id}", self.robot_id)
        threading.Thread(target=self._outcomes_worker, args=(leader.term, items, key_file), daemon=True,
                         name=f"outcomes-{leader.term}").start()

    def _outcomes_worker(self, term: int, items: list[tuple[str, str, str]], key_file: str) -> None:
        try:
            results = cloud_claim.report_outcomes(self.s.cloud_url, self.robot_id, term, items,
                                                  cloud_claim.read_seed(key_file), now=time.time(), timeout_s=10.0)
            failed = [tid for tid, outcome, _ in items if outcome == "failed"]
            self.get_logger().info(f"told the cloud (term {term}): {len(items)} task outcome(s), failed: "
                                   f"{', '.join(failed) or 'none'}; {[r.get('result') for r in results]}")
            self.outcome_results.put((term, items, "ok"))
        except cloud_claim.StaleTermError as exc:
            self.get_logger().warning(f"the cloud refused term {term}'s task outcomes: {exc}")
            self.outcome_results.put((term, items, "stale"))
        except (OSError, ValueError, HTTPError) as exc:
            self.get_logger().warning(f"task outcomes for term {term} not sent ({exc!r}); retrying")
            self.outcome_results.put((term, items, "error"))

    def _lead(self, now: float) -> None:
        leader, st = self.leader, self.swarm
        for req in leader.tick(st.members, st.suspected, now=now):
            payload = assignment_payload(req)
            self.get_logger().info(f"assign {req.task_id} to {req.robot_id} (term {req.term})")
            if req.robot_id == self.robot_id:
                self._apply_command(ASSIGN, req.term, decode(payload))
            else:
                self.command_pub.publish(SwarmCommand(term=req.term, kind=ASSIGN, payload=list(payload)))
        for robot, leases in leader.renewals().items():
            payload = {"robot": robot, "leases": leases}
            if robot == self.robot_id:
                self.robot.on_command(RENEW, leader.term, payload, now=now)
            else:
                self.command_pub.publish(SwarmCommand(term=leader.term, kind=RENEW, payload=list(encode(payload))))


def main(args: list[str] | None = None) -> int:
    """Entry point (sigma_ros_common.spin.run: a Ctrl-C during start-up is a clean exit too)."""
    return run("fleet_tasks_node", lambda: [FleetTasksNode()], args)


if __name__ == "__main__":
    main()
