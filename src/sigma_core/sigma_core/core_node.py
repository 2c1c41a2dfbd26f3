"""core_node: the thin shell around the onboard cognition pipeline (one timer; callbacks only convert and store).

Subscribes the robot's inputs (and the twin's ``twin/health`` when a twin runs), ``tasks/request``, the bridge's
``cognition/decisions`` and its ``fleet_model/verdict`` (diagnostic_msgs/DiagnosticStatus: the adopted fleet model's
class of the recent telemetry in ``message``, level WARN for a fault class); on each tick publishes
the commander's commands (``cmd/primary_ai/*`` or ``cmd/edge_ai/*``), ``policy_health`` (the Edge AI's own
confidence, and the Primary AI's relayed while its lease is live), ``tasks/status`` and ``cognition/arbiter``.
``joint_states`` (100 Hz) is subscribed only while an arm motion needs it, to keep the onboard CPU budget.
"""

from __future__ import annotations

import gc
import math
import re
import time
from collections import deque
from collections.abc import Sequence
from functools import partial

from diagnostic_msgs.msg import DiagnosticStatus
from nav_msgs.msg import Odometry, Path
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState, JointState
from std_msgs.msg import Float64, Header

from sigma_core import convert
from sigma_core.core.arbiter import NAMES, Decision
from sigma_core.core.forecast import Judgement, TaskLoad, judge
from sigma_core.core.pipeline import Pipeline, TickOutput
from sigma_core.core.tasks import FLEET_ACTIONS, TaskSpec
from sigma_core.settings import load_settings
from sigma_interfaces.msg import (
    ActuatorHealth,
    CognitionDecision,
    CommanderSwitch,
    DetectedHumans,
    PolicyHealth,
    SafetyStatus,
    Task,
    TaskStatus,
    TwinHealth,
)
from sigma_interfaces.srv import Forecast
from sigma_ros_common import cdr, qos, realtime, serialized
from sigma_ros_common.callbacks import quiet_on_shutdown, quiet_timer
from sigma_ros_common.spin import events_executor, run
from sigma_sim_interfaces.srv import SetPayload

PRIMARY_AI, EDGE_AI = CognitionDecision.SOURCE_PRIMARY_AI, CognitionDecision.SOURCE_EDGE_AI
ROUTE_TOPIC = re.compile(r"^/([^/]+)/traffic/route$")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
ROUTE_EVERY = 4          # ticks between traffic routes (5 Hz at the default 20 Hz)
PEER_SCAN_PERIOD = 2.0   # [s] between looks at the graph for other robots' routes
HISTORY = QoSProfile(depth=50, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


class CoreNode(Node):
    """Edge AI pipeline + arbiter for one robot (run it in the robot's namespace)."""

    def __init__(self) -> None:
        super().__init__("core")
        s = load_settings(self)
        self.params = s.node
        self.robot_id = self.get_namespace().strip("/")
        self.pipeline = Pipeline(s.site, s.config, self.robot_id)
        p = self.pipeline.perception
        # every callback is quiet while Ctrl-C takes the context down: rclpy's EventsExecutor logs whatever a callback
        # raises as FATAL, a publish that raced the shutdown or the KeyboardInterrupt of a Ctrl-C landing inside it
        quiet = partial(quiet_on_shutdown, self.context)

        def sub(msg_type, topic, callback, profile, **kw):
            return self.create_subscription(msg_type, topic, quiet(callback), profile, **kw)

        sub(Odometry, "odom", self._on_odom, qos.SENSOR, raw=True)  # 50 Hz: read from the CDR, no Python message
        sub(DetectedHumans, "humans", lambda m: p.update_humans(
            [(h.position.x, h.position.y, h.velocity.x, h.velocity.y) for h in m.humans], self._now()), qos.SENSOR)
        sub(BatteryState, "battery_state", lambda m: p.update_battery(*convert.battery_values(m), self._now()),
            qos.RELIABLE_10)
        sub(SafetyStatus, "safety/status", lambda m: p.update_safety(convert.safety_view(m), self._now()),
            qos.LATCHED)
        sub(ActuatorHealth, "actuator_health", lambda m: p.update_health(
            list(m.name), list(m.winding_temperature), self._now(), list(m.current)), qos.RELIABLE_10)
        sub(TwinHealth, "twin/health", self._on_twin, qos.LATCHED)
        sub(Task, "tasks/request", self._on_task, qos.reliable(20))
        sub(DiagnosticStatus, "fleet_model/verdict", lambda m: p.update_fleet_verdict(
            m.message, m.level >= DiagnosticStatus.WARN, self._now()), qos.LATCHED)
        sub(CognitionDecision, "cognition/decisions", self._on_decision, qos.DECISIONS)
        self._joints_sub = None
        self._joints_last_needed = 0.0
        pub = self.create_publisher
        self.cmd = {ch: (pub(JointState, f"cmd/{ch}/joint_command", qos.COMMANDS),
                         pub(type(convert.twist(0, 0)), f"cmd/{ch}/cmd_vel", qos.COMMANDS))
                    for ch in ("primary_ai", "edge_ai")}
        self.health_pub = pub(PolicyHealth, "policy_health", qos.RELIABLE_10)
        self.status_pub = pub(TaskStatus, "tasks/status", HISTORY)
        self.switch_pub = pub(CommanderSwitch, "cognition/arbiter", HISTORY)
        # who takes the route is told by the publisher's matched event the moment it changes (a relay that dies is
        # noticed at once, and one that lived only between two graph scans is not missed)
        self.route_pub = pub(Path, "traffic/route", qos.SENSOR, event_callbacks=PublisherEventCallbacks(
            matched=quiet(lambda info: p.update_route_listeners(info.current_count, self._now()))))
        self.separation_pub = pub(Float64, "traffic/min_separation", qos.LATCHED)
        self._peer_subs: dict[tuple[str, str], object] = {}   # (source, robot) -> subscription
        self._peers_from_mesh = False
        relay_ns = self.get_namespace().rstrip("/")
        self._relayed_route = re.compile(rf"^{re.escape(relay_ns)}/traffic/peers/([^/]+)/route$")
        self._ticks = 0
        self._published_min = math.inf
        self._traffic_note = ""
        self._active_reason: tuple[str, str, str] = ("", "", "")
        self.create_timer(PEER_SCAN_PERIOD, quiet_timer(self.context, self._scan_peers))
        self.forecast_client = self.create_client(Forecast, "twin/forecast")
        self._asking: dict[str, tuple[TaskSpec, TaskLoad, float]] = {}     # tasks awaiting the twin's forecast
        self._unasked: set[str] = set()  # ... of which the twin's service was not discovered yet (asked when it is)
        self.payload_client = self.create_client(SetPayload, self.params.payload_service) \
            if self.params.payload_service else None
        self._payload_pending: float | None = None
        self.tick_durations: deque[float] = deque(maxlen=100_000)   # [s] of whole ticks, for the exit summary
        self.tick_cpu: deque[float] = deque(maxlen=100_000)         # [s] CPU of this thread per tick (the work alone)
        self.create_timer(1.0 / self.params.rate, quiet_timer(self.context, self._tick))
        gc.collect()
        gc.freeze()     # the site map and its planner tables: never walked by a collection during a tick
        self.get_logger().info(f"core ready: site {s.site.name} ({len(s.site.places)} places), "
                               f"{self.params.rate:.0f} Hz")

    # -- clock: ROS time (sim time when use_sim_time), injected into the pure core ------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _to_local(self) -> float:
        """Offset that maps a wall-clock (UNIX) time onto the pipeline clock."""
        return self._now() - time.time()

    def _on_odom(self, raw: bytes) -> None:
        try:
            values = serialized.read_or_deserialize(raw, convert.odom_values_raw, Odometry, convert.odom_values)
        except cdr.CdrError as exc:
            self.get_logger().warning(f"odom: not a nav_msgs/Odometry ({exc}): skipped", throttle_duration_sec=5.0)
            return
        self.pipeline.perception.update_odom(*values, self._now())

    def _on_twin(self, m: TwinHealth) -> None:
        """The twin's highest component risk (NaN = not enough history yet: ignored, not an input error) and its
        earliest maintenance window (stamped in the drivers' time base, which is this node's clock)."""
        self.pipeline.perception.update_twin_window(convert.seconds(m.window_start))
        risks = [float(c.risk) for c in (*m.actuators, m.battery) if math.isfinite(c.risk)]
        if risks:
            self.pipeline.perception.update_twin_risk(max(0.0, min(1.0, max(risks))), self._now())

    # -- inputs that are requests -----------------------------------------------------------------
    def _on_task(self, m: Task) -> None:
        spec = convert.task_spec(m, self._to_local())
        if spec.task_id in self._asking:
            return                                   # a retry while the twin is asked: answered when it answers
        load = self.pipeline.wants_forecast(spec)
        if load is None:
            self._publish_statuses(self.pipeline.submit_task(spec, self._now()))
            return
        # A long or heavy task waits for the twin's what-if (up to forecast.timeout); a twin not discovered yet (both
        # just started) is asked as soon as it is, instead of the task being judged without it.
        self._asking[spec.task_id] = (spec, load, self._now())
        self._unasked.add(spec.task_id)
        self._ask_twin_when_ready()

    def _ask_twin_when_ready(self) -> None:
        if not self.forecast_client.service_is_ready():
            return
        for task_id in sorted(self._unasked):
            self._ask_twin(*self._asking[task_id][:2])
        self._unasked.clear()

    def _ask_twin(self, spec: TaskSpec, load: TaskLoad) -> None:
        """The twin's what-if for a long or heavy task; the task is accepted or refused when it answers."""
        req = Forecast.Request(joints=list(load.joints), rms_current=list(load.rms_current),
                               ambient_temperature=math.nan, cooling_factor=1.0, horizon=max(load.duration, 1.0))
        self.forecast_client.call_async(req).add_done_callback(lambda f, tid=spec.task_id: self._twin_said(tid, f))

    def _twin_said(self, task_id: str, future) -> None:
        asked = self._asking.pop(task_id, None)
        if asked is None:
            return                                   # already judged without it (timeout)
        spec, load, _ = asked
        try:
            res = future.result()
            verdict = judge(load, list(res.joints), list(res.risk), list(res.time_to_limit_q05),
                            self.pipeline.config.forecast) if res.success else \
                Judgement(note=f"twin forecast refused the question: {res.message}")
        except Exception as exc:  # noqa: BLE001 - the twin failing must not take the executor down
            verdict = Judgement(note=f"twin forecast failed: {exc!r}")
        self._publish_statuses(self.pipeline.submit_task(spec, self._now(), verdict))

    def _twin_overdue(self, now: float) -> None:
        self._ask_twin_when_ready()
        for task_id, (spec, _load, asked_at) in list(self._asking.items()):
            if now - asked_at > self.pipeline.config.forecast.timeout:
                del self._asking[task_id]
                timeout = self.pipeline.config.forecast.timeout
                note = (f"twin forecast service not available within {timeout} s" if task_id in self._unasked
                        else f"twin forecast did not answer within {timeout} s")
                self._unasked.discard(task_id)
                self._publish_statuses(self.pipeline.submit_task(spec, now, Judgement(note=note)))

    def _on_decision(self, m: CognitionDecision) -> None:
        if m.action in FLEET_ACTIONS:  # the fleet_tasks node's (the leader allocates it), not the executor's
            return
        offset = self._to_local()
        d = Decision(m.decision_id, convert.seconds(m.header.stamp) + offset, convert.seconds(m.deadline) + offset,
                     float(m.confidence), m.source)
        params = {kv.key: kv.value for kv in m.parameters}
        verdict, reports = self.pipeline.offer_decision(d, m.action, params, self._now())
        # one call site per severity: rclpy refuses a call site whose severity changes between calls
        if verdict.applied:
            self.get_logger().info(f"decision {m.decision_id} ({m.action}): {verdict.reason}")
        else:
            self.get_logger().warning(f"decision {m.decision_id} ({m.action}): {verdict.reason}")
        self._publish_statuses(reports)

    # -- the tick -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        self._tick_once()
        self.tick_durations.append(time.perf_counter() - t0)
        self.tick_cpu.append(time.thread_time() - c0)

    def _tick_once(self) -> None:
        now = self._now()
        if self._asking:
            self._twin_overdue(now)
        out = self.pipeline.tick(now)
        stamp = self.get_clock().now().to_msg()
        if out.switch is not None:
            self.switch_pub.publish(convert.switch_msg(out.switch, stamp))
            self.get_logger().info(f"commander: {out.switch.reason} (delay {out.switch.trigger_delay * 1e3:.0f} ms)")
        if out.channel is not None and out.command is not None:
            joints_pub, vel_pub = self.cmd[out.channel]
            vel_pub.publish(convert.twist(out.command.vx, out.command.wz))
            if out.command.joints:
                joints_pub.publish(convert.joint_command(out.command.joints, out.command.joint_speed, stamp))
        self._publish_health(out, stamp)
        self._publish_statuses(out.statuses)
        self._manage_joint_states(now)
        self._request_payload(out)
        self._publish_traffic(out, stamp)

    # -- traffic among robots (core.traffic): this robot's route out, peers' routes in -----------------
    def _publish_traffic(self, out: TickOutput, stamp) -> None:
        self._ticks += 1
        note_kind = NUMBER.sub("#", out.traffic_note)  # log a change of situation, not every new distance
        if note_kind != self._traffic_note:
            self._traffic_note = note_kind
            self.get_logger().info(f"traffic: {out.traffic_note or 'clear'}")
        if out.route and self._ticks % ROUTE_EVERY == 0:
            self.route_pub.publish(convert.route_path(out.route, stamp))
        low = self.pipeline.min_robot_distance
        if low < self._published_min - 0.005:
            self._published_min = low
            self.separation_pub.publish(Float64(data=float(low)))

    def _scan_peers(self) -> None:
        """Subscribe to every other robot's route (robots come and go): relayed from the signed swarm mesh
        (``traffic/peers/<id>/route``, sigma_fleet_tasks) and/or ``/<id>/traffic/route`` on the graph
        (``peer_routes``). ``auto`` takes both once a relay runs here; per robot the mesh's route is held and the
        graph's only while the mesh says nothing of that robot (``Perception.update_peer``)."""
        names = [name for name, _types in self.get_topic_names_and_types()]
        relayed = [m for m in map(self._relayed_route.match, names)
                   if m is not None and self.count_publishers(m.group(0)) > 0]  # a relay, not just a listener
        mode = self.params.peer_routes
        from_mesh = mode == "mesh" or (mode == "auto" and bool(relayed))
        if from_mesh != self._peers_from_mesh:
            self._peers_from_mesh = from_mesh
            self.get_logger().info(
                "traffic: other robots' routes from the swarm mesh (traffic/peers/*/route)"
                + (", a robot's from the ROS graph while the mesh says nothing of it" if mode == "auto" else "")
                if from_mesh else "traffic: other robots' routes from the ROS graph")
        found = [("mesh", m) for m in relayed] if from_mesh else []
        if mode != "mesh":
            found += [("graph", m) for m in map(ROUTE_TOPIC.match, names) if m is not None]
        for source, m in found:
            rid = m.group(1)
            if rid == self.robot_id or (source, rid) in self._peer_subs:
                continue
            # serialized: read with cdr.read_path_xy (a long route is many PoseStamped for rclpy to build, 5 Hz per
            # peer), and a graph route the mesh overrides is dropped before it is read
            self._peer_subs[(source, rid)] = self.create_subscription(
                Path, m.group(0),
                quiet_on_shutdown(self.context, lambda raw, r=rid, s=source: self._on_route(r, raw, s)),
                qos.SENSOR, raw=True)
            self.get_logger().info(f"traffic: following robot {rid}'s route ({source})")

    def _on_route(self, robot_id: str, raw: bytes, source: str) -> None:
        p, now, fallback = self.pipeline.perception, self._now(), self.pipeline.config.traffic.peer_max_age
        if p.overridden(robot_id, source, now, fallback):
            return
        try:
            route = serialized.read_or_deserialize(raw, cdr.read_path_xy, Path, convert.path_xy)
        except cdr.CdrError as exc:
            p.update_peer(robot_id, [], now, source)          # records the rejection (empty route)
            self.get_logger().warning(f"traffic: robot {robot_id}'s route is not a nav_msgs/Path ({exc}): skipped",
                                      throttle_duration_sec=5.0)
            return
        before = p.peer_source.get(robot_id)
        p.update_peer(robot_id, route, now, source, fallback_after=fallback)
        after = p.peer_source.get(robot_id)
        if before is not None and after != before:
            self.get_logger().info(
                f"traffic: robot {robot_id}'s route from the ROS graph: the mesh has said nothing of it for "
                f"{fallback:.1f} s" if after == "graph"
                else f"traffic: robot {robot_id}'s route from the swarm mesh again")

    def _publish_health(self, out: TickOutput, stamp) -> None:
        h = out.edge_health
        self.health_pub.publish(PolicyHealth(header=Header(stamp=stamp), source=EDGE_AI,
                                             policy_id=self.params.policy_id, confidence=float(h.confidence),
                                             input_age=float(min(h.input_age, 1e9))))
        if out.primary_confidence is not None:
            self.health_pub.publish(PolicyHealth(header=Header(stamp=stamp), source=PRIMARY_AI,
                                                 policy_id="cloud-primary-ai (relayed)",
                                                 confidence=float(out.primary_confidence), input_age=0.0))

    def _publish_statuses(self, reports) -> None:
        stamp = self.get_clock().now().to_msg()
        for r in reports:
            self.status_pub.publish(convert.status_msg(r, stamp))
            if r.state.name != "ACTIVE":
                self.get_logger().info(f"task {r.task_id}: {r.state.name} {r.reason} "
                                       f"(commander {NAMES.get(r.commander, r.commander)})")
                continue
            kind = (r.task_id, r.step, NUMBER.sub("#", r.reason))  # why it waits, logged when that changes
            if kind != self._active_reason:
                self._active_reason = kind
                self.get_logger().info(f"task {r.task_id}: at {r.step} ({r.progress:.0%}): {r.reason or 'unhindered'}")

    def _manage_joint_states(self, now: float) -> None:
        ctx = self.pipeline.ctx
        if ctx.needs_joints:
            self._joints_last_needed = now
            if self._joints_sub is None:
                p = self.pipeline.perception
                p.joints_requested_at = now     # self-evaluation gives the new stream time to start
                self._joints_sub = self.create_subscription(
                    JointState, "joint_states",
                    quiet_on_shutdown(self.context, lambda m: p.update_joints(list(m.name), list(m.position),
                                                                              self._now())), qos.SENSOR)
        elif self._joints_sub is not None and now - self._joints_last_needed > self.params.joint_states_linger:
            self.destroy_subscription(self._joints_sub)
            self._joints_sub = None
            self.pipeline.perception.joints_requested_at = None

    def _request_payload(self, out: TickOutput) -> None:
        mass = out.payload_request
        if mass is None or self._payload_pending == mass:
            return
        if self.payload_client is None:
            self.pipeline.confirm_payload(mass)
            return
        if not self.payload_client.service_is_ready():
            self.get_logger().warning(f"{self.params.payload_service} not available: cannot grasp/release",
                                      throttle_duration_sec=2.0)
            return
        self._payload_pending = mass
        future = self.payload_client.call_async(SetPayload.Request(mass=float(mass)))
        future.add_done_callback(lambda f, m=mass: self._payload_done(f, m))

    def _payload_done(self, future, mass: float) -> None:
        self._payload_pending = None
        try:
            res = future.result()
        except Exception as exc:  # noqa: BLE001 - a failed call fails the grasp by timeout, with the reason logged
            self.get_logger().error(f"{self.params.payload_service} failed: {exc!r}")
            return
        if res.accepted:
            self.pipeline.confirm_payload(mass)
        else:
            self.get_logger().warning(f"{self.params.payload_service} refused {mass} kg: {res.message}")

    def summary(self) -> str:
        """One line for the exit log (and bench/core_tick.py): time per commander, tick duration percentiles."""
        fr = self.pipeline.mode_fractions()
        ticks, cpu = sorted(self.tick_durations), sorted(self.tick_cpu)

        def pct(values: list[float], q: float) -> float:
            return 1e3 * values[min(len(values) - 1, int(q * len(values)))] if values else math.nan

        return ("sigma_core summary: time per commander " + ", ".join(f"{k} {v:.1%}" for k, v in fr.items())
                + f"; ticks {len(ticks)} p50 {pct(ticks, 0.5):.3f} ms p99 {pct(ticks, 0.99):.3f} ms max "
                f"{pct(ticks, 1.0):.3f} ms; tick CPU p50 {pct(cpu, 0.5):.3f} ms p99 {pct(cpu, 0.99):.3f} ms"
                + f"; nearest robot {self.pipeline.min_robot_distance:.2f} m")


def main(args: list[str] | None = None) -> int:
    """Entry point of ``core_node`` (EventsExecutor, fail-safe callbacks, the ``nice`` parameter applied)."""

    def start(nodes: Sequence[Node]) -> None:
        for n in nodes:
            if isinstance(n, CoreNode):
                realtime.apply_nice(n.get_logger(), n.params.nice)

    return run("core_node", lambda: [CoreNode()], args, executor_for=lambda _nodes: events_executor(), fail_safe=True,
               on_start=start, on_exit=lambda nodes: [print(n.summary(), flush=True) for n in nodes])


__all__ = ["CoreNode", "main"]
