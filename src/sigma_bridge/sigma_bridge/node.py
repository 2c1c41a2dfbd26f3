"""sigma_bridge node: the one rclpy gateway of the bridge (a lifecycle node, self-activating by default).

Callbacks only convert: each raw message goes into the black box window, is downsampled, mapped to a protocol
payload and handed to :class:`~sigma_bridge.workers.Handoff`; disk, network and MCAP writing run on worker
threads; the Foxglove SDK buffers per client on its own threads. So a slow disk, cloud or viewer never blocks
the executor. Every subscription is taken by a ``TopicReader`` (sigma_ros_common.reader: one fixed wait set on a
thread of its own, ~3x less CPU per message than the executor's); the executor keeps the timers and the lifecycle
and parameter services, and the timers that share state with the callbacks take the reader's lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import yaml
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import BatteryState, Imu, JointState

import sigma_protocol as protocol
from sigma_bridge import log_uplink, mapping, swarm_link
from sigma_bridge.blackbox import BlackBox, QosSpec, Record, write_mcap
from sigma_bridge.downlink import DecisionFilter
from sigma_bridge.downsample import Downsampler
from sigma_bridge.fleet_model import Classification, LiveClassifier, verdict_values
from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_bridge.kinematics import RobotModel
from sigma_bridge.labelled_data import LabelledRecorder
from sigma_bridge.model_adoption import ModelAdopter
from sigma_bridge.params import BridgeParams, declare
from sigma_bridge.recording_upload import RecordingUploader
from sigma_bridge.store import PRIORITY_ROUTINE, PRIORITY_SAFETY, EventStore, NewEvent
from sigma_bridge.uplink import UplinkClient
from sigma_bridge.workers import DownlinkPoller, Handoff, StoreWriter, Uploader
from sigma_interfaces.msg import (
    ActuatorHealth,
    CognitionDecision,
    DetectedHumans,
    SafetyEvent,
    SafetyStatus,
    TaskStatus,
    TwinHealth,
)
from sigma_ros_common import qos
from sigma_ros_common.params import ConfigError
from sigma_ros_common.reader import TopicReader
from sigma_ros_common.share import resolve_file
from sigma_ros_common.spin import run

# topic (relative) -> (message class, type name, QoS, uplink channel or None)
TOPICS: dict[str, tuple[type, str, Any, str | None]] = {
    "joint_states": (JointState, "sensor_msgs/msg/JointState", qos.SENSOR, "joint_states"),
    "imu": (Imu, "sensor_msgs/msg/Imu", qos.SENSOR, "imu"),
    "odom": (Odometry, "nav_msgs/msg/Odometry", qos.SENSOR, "odom"),
    "battery_state": (BatteryState, "sensor_msgs/msg/BatteryState", qos.RELIABLE_10, "battery"),
    "actuator_health": (ActuatorHealth, "sigma_interfaces/msg/ActuatorHealth", qos.RELIABLE_10, "actuator_health"),
    "humans": (DetectedHumans, "sigma_interfaces/msg/DetectedHumans", qos.SENSOR, "humans"),
    "safety/status": (SafetyStatus, "sigma_interfaces/msg/SafetyStatus", qos.LATCHED, "safety_status"),
    "safety/events": (SafetyEvent, "sigma_interfaces/msg/SafetyEvent", qos.SAFETY_EVENTS, "safety_event"),
    # transient-local like its publisher (sigma_core); the cloud drops replays by the robot's stamp (docs/tasks.md)
    "tasks/status": (TaskStatus, "sigma_interfaces/msg/TaskStatus", qos.SAFETY_EVENTS, "task_status"),
    "twin/health": (TwinHealth, "sigma_interfaces/msg/TwinHealth", qos.LATCHED, "twin_health"),
}
# channel -> the live view's rate limit it is drawn under (None: every message)
VIEW_CHANNELS = {"joint_states": "tf", "odom": "scene", "battery": None, "actuator_health": "health", "humans": "scene"}


def _time(t: float) -> Time:
    sec = int(t)
    return Time(sec=sec, nanosec=int((t - sec) * 1e9))


class BridgeNode(LifecycleNode):
    """Telemetry uplink, decision downlink, Foxglove live view and black box for one robot."""

    def __init__(self) -> None:
        super().__init__("sigma_bridge")
        self.p: BridgeParams = declare(self)
        self._active = False
        self._subs: list = []
        self._timers: list = []
        self.reader: TopicReader | None = None
        self.view = None
        self._last_safety_key: tuple[int, int] = (0, -1)
        self.uploader: Uploader | None = None
        self.downlink: DownlinkPoller | None = None
        self.swarm: swarm_link.SwarmLink | None = None
        self.recording_uploader: RecordingUploader | None = None
        self.model_adopter: ModelAdopter | None = None
        self.logs: log_uplink.LogUplink | None = None
        self.labels: LabelledRecorder | None = None  # the robot's labelled data for its shadow check
        self._labels_due = 0.0
        self.classifier: LiveClassifier | None = None  # the adopted fleet model on the robot's own telemetry
        self._classify_due = 0.0
        self.classified: Classification | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self.p
        try:
            self.store = EventStore(p.store_path, capacity=p.store_capacity, synchronous=p.store_synchronous,
                                    live_window=p.live_window_s, backlog_rate=p.backlog_rate)
            # safety/events is transient-local: a (re)started bridge receives the supervisor's recent history and
            # skips what an earlier incarnation already stored.
            self._last_safety_key = self.store.last_safety_key()
            self.key = load_or_create_signing_key(p.key_file)
            model = RobotModel.from_file(resolve_file(p.urdf_path, "sigma_bridge", "urdf_path"))
            fences = self._geofences()
        except (OSError, ValueError, yaml.YAMLError) as exc:
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.handoff = Handoff(p.handoff_capacity)
        self.downsampler = Downsampler(p.rates | {"safety_event": 0.0, "task_status": 0.0})
        self.viz = Downsampler({"tf": p.viz_rate, "scene": min(p.viz_rate, 5.0), "health": 5.0, "model": 1.0})
        self.blackbox = BlackBox(pre_s=p.blackbox_pre_s, post_s=p.blackbox_post_s, max_bytes=p.blackbox_max_bytes)
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bridge-recorder")
        self.recordings_written = 0
        self._last_status: tuple | None = None
        self.writer = StoreWriter(self.store, self.lock, self.handoff, p.commit_period_s, self.wake)
        self.filter = DecisionFilter(p.robot_id)
        def client(url: str) -> UplinkClient:  # one per worker thread: each keeps its own connection
            return UplinkClient(url, p.robot_id, self.key, p.request_timeout_s)

        if p.cloud_url:
            self.uploader = Uploader(self.store, self.lock, client(p.cloud_url), p.batch_max_events, self.wake,
                                     p.priority_max_events if p.priority_lane else 0,
                                     client(p.decision_url) if p.decision_url else None)
            self.downlink = DownlinkPoller(client(p.decision_base), self.filter, self._relay_decision,
                                           p.downlink_wait_s)
            if p.recording_upload_rate > 0:  # black-box MCAPs go up after the live telemetry (docs/cognition.md)
                self.recording_uploader = RecordingUploader(client(p.cloud_url), p.recordings_dir,
                                                            self._telemetry_waiting, rate=p.recording_upload_rate)
            if p.model_check_period_s > 0:  # fleet model: fetch, shadow check, adopt or not, report
                self.model_adopter = ModelAdopter(client(p.cloud_url), p.model_dir, period=p.model_check_period_s)
        if p.labelled_normal_period_s > 0:  # works without a cloud too: the data is the robot's own
            self.labels = LabelledRecorder(p.model_dir / "recent.jsonl", normal_period_s=p.labelled_normal_period_s)
        if p.model_classify_period_s > 0:  # idle (None verdicts) until a fleet model is adopted
            self.classifier = LiveClassifier(p.model_dir / "current.json")
        if p.foxglove_enabled:
            from sigma_bridge.live_view import LiveView

            self.view = LiveView(p.robot_id, model, host=p.foxglove_host, port=p.foxglove_port,
                                 backlog=p.foxglove_backlog, geofences=fences)
        # Swarm mesh: the signed site roster for swarm_node, leader changes to the cloud, swarm/state in the live
        # view (docs/swarm.md).
        self.reader = reader = TopicReader(self, name="bridge-reader")
        self.swarm = swarm_link.attach(self, p.robot_id, p.cloud_url, client(p.cloud_url) if p.cloud_url else None,
                                       view=self.view, subscribe=reader.subscribe)
        # The robot's /rosout records, structured, rate-limited and shipped to the cloud (docs/logs.md).
        self.logs = log_uplink.attach(self, p.robot_id, client(p.cloud_url) if p.cloud_url else None,
                                      subscribe=reader.subscribe)
        if self.logs is not None:
            self._subs.append(self.logs.subscription)
        self.decisions_pub = self.create_publisher(CognitionDecision, "cognition/decisions", qos.DECISIONS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", qos.RELIABLE_10)
        # The fleet model's verdict for the robot's own core (its reasoning derates, its self-evaluation is capped).
        self.verdict_pub = self.create_publisher(DiagnosticStatus, "fleet_model/verdict", qos.LATCHED) \
            if self.classifier is not None else None
        # The black box records each topic with the QoS its publishers offer (docs/contracts.md).
        self._offered_qos = {self.resolve_topic_name(t): QosSpec(q.reliability.name.lower(), q.durability.name.lower(),
                                                                 q.depth) for t, (_, _, q, _) in TOPICS.items()}
        for topic, (cls, type_name, profile, channel) in TOPICS.items():
            full = self.resolve_topic_name(topic)
            self._subs.append(reader.subscribe(
                cls, topic, lambda raw, c=cls, t=type_name, f=full, ch=channel: self._on_raw(raw, c, t, f, ch),
                profile, raw=True))
        self._timers.append(self.create_timer(0.1, self._on_tick))
        self._timers.append(self.create_timer(p.stats_period_s, self._publish_diagnostics))
        self.get_logger().info(f"robot key {p.key_file} public key {public_key_b64(self.key)}")
        return TransitionCallbackReturn.SUCCESS

    def _geofences(self) -> list[dict]:
        """Fences for the live view; a missing default file only means none are drawn."""
        from sigma_bridge.live_view import geofences_from_yaml

        if not self.p.geofences_file:
            return []
        try:  # the default names sigma_safety's file: a robot without sigma_safety installed just draws none
            path = resolve_file(self.p.geofences_file, "sigma_bridge", "geofences_file", must_exist=False)
        except ConfigError as exc:
            self.get_logger().warning(f"{exc}: no geofences in the live view")
            return []
        if not path.is_file():
            self.get_logger().warning(f"geofences_file {path} not found: no geofences in the live view")
            return []
        return geofences_from_yaml(yaml.safe_load(path.read_text()), self.p.geofence_site)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.writer.start()
        if self.uploader:
            self.uploader.start()
        if self.downlink is not None:
            self.downlink.start()
        if self.recording_uploader is not None:
            self.recording_uploader.start()
        if self.model_adopter is not None:
            self.model_adopter.start()
        if self.swarm is not None:
            self.swarm.start()
        if self.logs is not None:
            self.logs.start()
        self._active = True
        # Taking starts with the active state, as an executor's would: what arrived before (the safety events a
        # transient-local history replays to a late bridge) waits in DDS instead of being taken and dropped.
        if self.reader is not None:
            self.reader.start()
        port = self.view.port if self.view else 0
        decisions = f" decisions={self.p.decision_url}" if self.p.decision_url else ""
        self.get_logger().info(f"sigma_bridge ready robot={self.p.robot_id} cloud={self.p.cloud_url or '-'}"
                               f"{decisions} foxglove_port={port} store={self.p.store_path} "
                               f"sync={self.store.synchronous}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._active = False
        if self.reader is not None:
            self.reader.stop()
            self.reader = None
        for s in self._subs:
            self.destroy_subscription(s)
        for t in self._timers:
            self.destroy_timer(t)
        self._subs, self._timers = [], []
        workers = [w for w in (self.logs, self.model_adopter, self.recording_uploader, self.swarm, self.downlink,
                               self.uploader, getattr(self, "writer", None)) if w is not None and w.is_alive()]
        for w in workers:  # all told at once, then joined against one deadline: shutdown is bounded by the slowest
            w.stop_event.set()
            wake = getattr(w, "wake", None)
            if isinstance(wake, threading.Event):
                wake.set()
        deadline = time.monotonic() + 3.0
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        if hasattr(self, "recorder"):
            self.recorder.shutdown(wait=True)
        if self.view is not None:
            self.view.close()
            self.view = None
        if hasattr(self, "store"):
            with getattr(self, "lock", threading.Lock()):  # no lock yet when configure failed early
                self.store.close()
            del self.store

    # ---- callbacks: convert and hand over ----------------------------------------------------------------------
    def _on_raw(self, raw: bytes, cls: type, type_name: str, topic: str, channel: str | None) -> None:
        if not self._active:
            return
        now = time.time()
        t_ns = int(now * 1e9)
        self.blackbox.add(Record(topic, type_name, t_ns, raw))
        need, uplink = self._wanted(channel, now)
        if not need:
            return
        try:
            msg = deserialize_message(raw, cls)
        except Exception as exc:  # noqa: BLE001 - a malformed sample must not stop the bridge
            if self.context.ok():  # (during Ctrl-C the type support may be gone: not the sample's fault)
                self.get_logger().error(f"{topic}: cannot deserialize {type_name}: {exc}", throttle_duration_sec=5.0)
            return
        if channel is None:
            return
        if self.view is not None and (channel not in VIEW_CHANNELS or self.view.wants(channel)):
            self._to_view(channel, msg, now, t_ns)
        recording = ""
        source_key: tuple[int, int] | None = None
        priority = PRIORITY_ROUTINE
        force = False
        if channel == "safety_event":
            source_key = (msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, msg.sequence)
            if source_key <= self._last_safety_key:
                return  # already in the store (replayed from the transient-local history)
            self._last_safety_key = source_key
            priority = PRIORITY_SAFETY
            path = self.p.recordings_dir / f"{self.p.robot_id}_safety_{msg.sequence}_{t_ns}.mcap"
            rec = self.blackbox.trigger(t_ns, str(path))  # recordings_dir is absolute (params)
            if rec is not None:  # events of one incident window share one recording
                recording = rec.path
        elif channel == "safety_status":
            key = (msg.level, msg.authority, msg.sequence)
            force, self._last_status = key != self._last_status, key
            if not self.downsampler.accept(channel, now, force=force):
                return
        elif channel == "task_status":
            # Control plane, a few per task: in the priority lane, ahead of any telemetry backlog and never dropped.
            # The cloud's task record refuses a report older than the current holder's: a starved bridge's
            # routine backlog delivered r3's "accepted" after r2 had taken the task over, and the record never
            # showed r3 holding it (a CI run of the hand-over check).
            priority = PRIORITY_SAFETY
        elif not uplink:
            return
        payload = mapping.safety_event(msg, recording) if channel == "safety_event" else mapping.MAPPERS[channel](msg)
        ts = mapping.event_time(msg.header.stamp, now)
        if self.labels is not None:
            self.labels.add(channel, ts, payload)
        if self.classifier is not None:
            self.classifier.add(channel, ts, payload)
        if not self.handoff.put(NewEvent(channel, ts, orjson.dumps(payload), priority, source_key)):
            self.get_logger().warning("hand-off buffer full: dropping routine telemetry", throttle_duration_sec=5.0)

    def _wanted(self, channel: str | None, now: float) -> tuple[bool, bool]:
        """(deserialize it?, uplink it?): the uplink decision is the downsampler's; the live view wants a message
        when a client watches what it feeds and the view's rate limit would draw it."""
        if channel in ("safety_status", "safety_event", "task_status"):
            return True, True
        uplink = channel is not None and self.downsampler.accept(channel, now)
        if uplink or self.view is None or channel not in VIEW_CHANNELS:
            return uplink, uplink
        limit = VIEW_CHANNELS[channel]
        return (limit is None or self.viz.due(limit, now)) and self.view.wants(channel), False

    def _to_view(self, kind: str, msg: Any, now: float, t_ns: int) -> None:
        v = self.view
        if kind == "joint_states" and self.viz.accept("tf", now):
            v.joints(dict(zip(msg.name, msg.position, strict=False)), t_ns)
            if self.viz.accept("model", now):
                v.robot_model(t_ns)
        elif kind == "odom" and self.viz.accept("scene", now):
            pp = msg.pose.pose
            v.base_pose((pp.position.x, pp.position.y, pp.position.z),
                        (pp.orientation.x, pp.orientation.y, pp.orientation.z, pp.orientation.w), t_ns,
                        frame=msg.header.frame_id or "odom")
        elif kind == "humans" and self.viz.accept("scene", now):
            v.humans(msg.header.frame_id, [(h.id, h.position.x, h.position.y, h.position.z) for h in msg.humans], t_ns)
        elif kind == "safety_status":
            v.safety_status(mapping.safety_status(msg), t_ns)
        elif kind == "actuator_health" and self.viz.accept("health", now):
            v.actuator_health(list(msg.name), list(msg.winding_temperature), list(msg.current), t_ns)
        elif kind == "battery":
            v.battery_state(mapping.battery(msg), t_ns)

    def _on_tick(self) -> None:
        if self.reader is None:
            return
        with self.reader.lock:  # the black box is filled by the reader's thread
            due = self.blackbox.due(time.time_ns())
        for rec in due:
            self.recorder.submit(self._write_recording, rec)
        if self.labels is not None and time.monotonic() >= self._labels_due:  # once a second, off this thread
            self._labels_due = time.monotonic() + 1.0
            self.recorder.submit(self._write_labels)
        if self.classifier is not None and time.monotonic() >= self._classify_due:
            self._classify_due = time.monotonic() + self.p.model_classify_period_s
            self.recorder.submit(self._classify)

    def _classify(self) -> None:
        """The adopted fleet model's class of the recent telemetry; a change of class is logged."""
        try:
            verdict = self.classifier.tick() if self.classifier is not None else None
        except Exception as exc:  # noqa: BLE001 - classification is advisory, never fatal to the bridge
            self.get_logger().error(f"fleet model: {exc}", throttle_duration_sec=30.0)
            return
        previous, self.classified = self.classified, verdict
        if verdict is not None and self.verdict_pub is not None and self._active:
            self.verdict_pub.publish(DiagnosticStatus(
                level=DiagnosticStatus.WARN if verdict.fault else DiagnosticStatus.OK, name="fleet_model",
                message=verdict.label, hardware_id=self.p.robot_id,
                values=[KeyValue(key=k, value=v) for k, v in verdict_values(verdict).items()]))
        if verdict is not None and (previous is None or previous.label != verdict.label):
            log = self.get_logger().warning if verdict.fault else self.get_logger().info
            log(f"fleet model v{verdict.version}: the last {verdict.events} events classify as {verdict.label}")

    def _write_labels(self) -> None:
        try:
            for sample in self.labels.due() if self.labels is not None else ():
                self.get_logger().info(f"labelled data: {sample.label} sample at {sample.ts:.1f} "
                                       f"({self.labels.lines} in {self.labels.path})")
        except Exception as exc:  # noqa: BLE001 - the robot's learning data is never fatal to the bridge
            self.get_logger().error(f"labelled data: {exc}", throttle_duration_sec=30.0)

    def _write_recording(self, rec: Any) -> None:
        try:
            n = write_mcap(rec.path, rec.records, {"robot_id": self.p.robot_id, "trigger_ns": str(rec.t_ns),
                                                   "triggers": str(len(rec.triggers))}, qos=self._offered_qos)
            self.recordings_written += 1
            if self.recording_uploader is not None:
                self.recording_uploader.enqueue(rec.path)
            self.get_logger().info(f"black box: wrote {n} messages to {rec.path}")
        except Exception as exc:  # noqa: BLE001 - a failed recording is reported, never fatal
            self.get_logger().error(f"black box: writing {rec.path} failed: {exc}")

    def _telemetry_waiting(self) -> bool:
        """More than one batch of telemetry waits in the store: recordings wait for it."""
        st = self.writer.snapshot
        return bool(st and st.pending > self.p.batch_max_events) or len(self.handoff) > self.p.batch_max_events

    def _relay_decision(self, d: protocol.Decision) -> None:
        """Publish a checked cloud decision for the arbiter and the safety gate (called from the downlink thread)."""
        msg = CognitionDecision(decision_id=d.decision_id, source=d.source, confidence=d.confidence, action=d.action,
                                parameters=[KeyValue(key=k, value=v) for k, v in d.parameters.items()],
                                deadline=_time(d.deadline))
        msg.header.stamp = _time(d.created_at)
        msg.header.frame_id = f"{self.p.robot_id}/base_link"
        if self._active:
            self.decisions_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        if not self._active:
            return
        st = self.writer.snapshot
        values = {f"{kind}.{ch}": n for kind in ("enqueued", "acked", "dropped", "rejected")
                  for ch, n in getattr(st, kind).items()} if st else {}
        values.update(pending=st.pending if st else 0, dead_letter=st.dead_letter if st else 0,
                      handoff=len(self.handoff),
                      recordings_written=self.recordings_written, foxglove_port=self.view.port if self.view else 0)
        level, message = DiagnosticStatus.OK, "ok"
        if self.uploader is not None:
            values.update(sent_batches=self.uploader.sent_batches, upload_failures=self.uploader.failures)
            if self.downlink is not None:
                values.update({f"decisions.{k}": n for k, n in self.downlink.counts.items()})
            if self.recording_uploader is not None:
                ru = self.recording_uploader
                values.update(recordings_uploaded=ru.uploaded, recordings_refused=ru.refused,
                              recordings_queued=len(ru.queue))
            if self.logs is not None:
                values.update(self.logs.stats())
            if self.labels is not None:
                values.update(labelled_samples=self.labels.lines)
            if self.model_adopter is not None:
                values.update(model_version=self.model_adopter.in_use, model_checked=self.model_adopter.checked_version)
        if self.classified is not None:
            values.update(fleet_model_class=self.classified.label, fleet_model_version=self.classified.version)
        if self.uploader is not None:
            if not self.uploader.connected and (st and st.pending):
                level, message = DiagnosticStatus.WARN, f"cloud unreachable, buffering: {self.uploader.last_error}"
            elif st and st.dead_letter:
                level, message = DiagnosticStatus.WARN, f"{st.dead_letter} event(s) refused by the cloud, in the " \
                                                        "store's dead letters"
        if self.classified is not None and self.classified.fault and level == DiagnosticStatus.OK:
            level, message = DiagnosticStatus.WARN, (f"fleet model v{self.classified.version} classifies the recent "
                                                     f"telemetry as {self.classified.label}")
        status = DiagnosticStatus(level=level, name=f"sigma_bridge: {self.p.robot_id}", message=message,
                                  hardware_id=self.p.robot_id,
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(arr)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``bridge_node``: build, configure and activate the lifecycle node, spin until shutdown."""

    def make() -> list[BridgeNode]:
        node = BridgeNode()
        if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            node._release()
            node.destroy_node()
            raise ConfigError("configure failed (the reason is logged above)")
        node.trigger_activate()
        return [node]

    def release(nodes: Sequence[Node]) -> None:
        for n in nodes:
            if isinstance(n, BridgeNode):
                n._release()

    return run("sigma_bridge", make, args, on_exit=release)
