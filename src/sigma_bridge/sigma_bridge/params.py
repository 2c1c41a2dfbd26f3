"""The bridge node's parameters: frozen dataclasses (sigma_ros_common's scheme) whose unit, range and description
drive the ROS descriptors, validation and docs; defaults equal config/bridge.yaml (a unit test checks it). All are
read-only at runtime (they size stores, sockets and threads that are built once at configure)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rclpy.node import Node

from sigma_bridge.store import SYNCHRONOUS_POLICIES
from sigma_ros_common.params import ConfigError, param
from sigma_ros_common.ros_params import load

RATE_CHANNELS = ("joint_states", "actuator_health", "battery", "imu", "odom", "safety_status", "twin_health",
                 "humans")


def _rate(default: float, channel: str) -> float:
    return param(default, unit="Hz", low=0.0, high=1000.0, description=f"uplink rate of {channel}; 0 = every message")


@dataclass(frozen=True)
class BridgeRates:
    """Uplink rate per channel, parameters ``rates.<channel>``."""

    joint_states: float = _rate(10.0, "joint_states")
    actuator_health: float = _rate(2.0, "actuator_health")
    battery: float = _rate(1.0, "battery")
    imu: float = _rate(10.0, "imu")
    odom: float = _rate(10.0, "odom")
    safety_status: float = _rate(1.0, "safety_status (plus every change)")
    twin_health: float = param(0.2, unit="Hz", low=0.0, high=1.0,
                               description="uplink rate of twin_health (twin/health; the twin's forecasts change "
                                           "every few minutes); at most 1 Hz, 0 = every message")
    humans: float = param(2.0, unit="Hz", low=0.1, high=10.0,
                          description="uplink rate of humans (detected people, drawn on the console's map); 0.1..10 Hz")


@dataclass(frozen=True)
class BridgeSettings:
    """The declared top-level parameters. ``{robot_id}`` in a path is replaced by the robot id."""

    robot_id: str = param("", description="robot id (empty: the node namespace)")
    cloud_url: str = param("http://127.0.0.1:8000", unit="URL",
                           description="cloud base URL (device protocol v1); empty disables up- and downlink")
    decision_url: str = param("", unit="URL",
                              description="the cloud's decision path: the downlink (long poll, acks) and priority-lane "
                                          "batches go here, to replicas that take no bulk ingest (docs/deploy.md); "
                                          "empty = cloud_url")
    key_file: str = param("var/sigma_bridge/{robot_id}/robot.key", unit="path",
                          description="robot Ed25519 key file; generated 0600 if missing")
    store_path: str = param("var/sigma_bridge/{robot_id}/uplink.db", unit="path",
                            description="store-and-forward SQLite file")
    store_capacity: int = param(2_000_000, low=1, high=2**40,
                                description="events held at most before the oldest routine telemetry is dropped")
    store_synchronous: str = param("FULL", description="SQLite synchronous policy", choices=SYNCHRONOUS_POLICIES)
    handoff_capacity: int = param(20_000, low=1, high=10**7,
                                  description="routine events buffered in memory between ROS callbacks and the store")
    commit_period_s: float = param(0.02, unit="s", low=0.001, high=5.0, description="group-commit period of the store")
    live_window_s: float = param(2.0, unit="s", low=0.0, high=3600.0,
                                 description="events younger than this go before the backlog")
    backlog_rate: float = param(5000.0, unit="events/s", low=1.0, high=1e7,
                                description="backlog events sent at most after an outage")
    batch_max_events: int = param(2000, low=1, high=10_000, description="events per ingest request")
    priority_lane: bool = param(True, description="send a waiting safety event at once in a small batch signed for "
                                "the cloud's priority ingest lane (docs/device-protocol.md)")
    priority_max_events: int = param(64, low=1, high=10_000, description="events per priority-lane batch (the "
                                     "cloud's ingest_priority_max_events; a larger batch is demoted to bulk)")
    request_timeout_s: float = param(10.0, unit="s", low=0.1, high=120.0, description="HTTP timeout per request")
    downlink_wait_s: float = param(10.0, unit="s", low=0.0, high=25.0,
                                   description="long-poll duration of the decision downlink")
    foxglove_enabled: bool = param(True, description="serve the Foxglove live view")
    foxglove_host: str = param("127.0.0.1", description="live view bind address")
    foxglove_port: int = param(8765, low=0, high=65535, description="live view WebSocket port (0 = any free port)")
    foxglove_backlog: int = param(256, low=1, high=100_000, description="messages buffered per WebSocket client")
    viz_rate: float = param(20.0, unit="Hz", low=0.1, high=200.0, description="live view update rate")
    urdf_path: str = param("package://sigma_description/urdf/sigma_humanoid.urdf", unit="path",
                           description="robot URDF for the live view transforms (package://, or absolute)")
    geofences_file: str = param("package://sigma_safety/config/geofence.yaml", unit="path",
                                description="geofence YAML drawn in the live view (sigma_safety's format or a list); "
                                            "empty = none")
    geofence_site: str = param("warehouse", description="site of the geofence YAML to draw")
    blackbox_pre_s: float = param(10.0, unit="s", low=0.1, high=600.0, description="topics kept before a safety event")
    blackbox_post_s: float = param(2.0, unit="s", low=0.0, high=600.0, description="recorded after a safety event")
    blackbox_max_bytes: int = param(67_108_864, unit="bytes", low=1024, high=2**34,
                                    description="memory bound of the black box window")
    recordings_dir: str = param("var/sigma_bridge/{robot_id}/recordings", unit="path",
                                description="black box MCAP directory")
    recording_upload_rate: float = param(1_048_576.0, unit="bytes/s", low=0.0, high=1e9,
                                         description="black-box recordings uploaded to the cloud at most this fast, "
                                                     "only while live telemetry is not waiting; 0 = no upload")
    model_dir: str = param("var/sigma_bridge/{robot_id}/model", unit="path",
                           description="fleet anomaly model in use (current.json) and the robot's recent labelled "
                                       "data for its shadow check (recent.jsonl)")
    model_check_period_s: float = param(60.0, unit="s", low=0.0, high=86_400.0,
                                        description="period of fetching and shadow-checking a new fleet model; "
                                                    "0 = never")
    labelled_normal_period_s: float = param(30.0, unit="s", low=0.0, high=86_400.0,
                                            description="the robot's labelled data (model_dir/recent.jsonl, what the "
                                                        "shadow check reads): a 'normal' sample this often, plus one "
                                                        "per raised safety fault; 0 = no labelled data written")
    model_classify_period_s: float = param(1.0, unit="s", low=0.0, high=3600.0,
                                           description="the adopted fleet model (model_dir/current.json) classifies "
                                                       "the robot's last 6 s of telemetry this often (diagnostics "
                                                       "fleet_model_class, WARN on a fault class); 0 = never")
    stats_period_s: float = param(1.0, unit="s", low=0.05, high=60.0, description="diagnostics period")


@dataclass(frozen=True)
class BridgeParams:
    """The validated parameters with the robot id resolved and substituted into the paths."""

    robot_id: str
    cloud_url: str
    key_file: Path
    store_path: Path
    store_capacity: int
    store_synchronous: str
    handoff_capacity: int
    commit_period_s: float
    live_window_s: float
    backlog_rate: float
    batch_max_events: int
    request_timeout_s: float
    downlink_wait_s: float
    rates: dict[str, float]
    foxglove_enabled: bool
    foxglove_host: str
    foxglove_port: int
    foxglove_backlog: int
    viz_rate: float
    urdf_path: str
    geofences_file: str
    geofence_site: str
    blackbox_pre_s: float
    blackbox_post_s: float
    blackbox_max_bytes: int
    recordings_dir: Path
    stats_period_s: float
    recording_upload_rate: float = 1_048_576.0
    model_dir: Path = Path("var/sigma_bridge/model")
    model_check_period_s: float = 60.0
    labelled_normal_period_s: float = 30.0
    model_classify_period_s: float = 1.0
    priority_lane: bool = True
    priority_max_events: int = 64
    decision_url: str = ""  # resolved: cloud_url when the parameter is empty

    @property
    def decision_base(self) -> str:
        """Where the downlink and priority-lane batches go."""
        return self.decision_url or self.cloud_url


def _url(name: str, value: str) -> str:
    """An http(s) base URL or empty; ConfigError naming the parameter otherwise."""
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"parameter {name}: {value!r} is not an http(s) base URL (e.g. https://cloud.example)")
    return value


def declare(node: Node) -> BridgeParams:
    """Declare every parameter with its descriptor and return them validated (ConfigError names the parameter)."""
    s = load(node, BridgeSettings)
    rates = load(node, BridgeRates, "rates")
    robot_id = s.robot_id or node.get_namespace().strip("/")
    if not robot_id or "/" in robot_id:
        raise ConfigError(f"parameter robot_id: {robot_id!r} is empty or nested; set it or run in /<robot_id>")

    def path(value: str) -> Path:
        return Path(value.replace("{robot_id}", robot_id))

    return BridgeParams(
        robot_id=robot_id, cloud_url=_url("cloud_url", s.cloud_url), key_file=path(s.key_file),
        store_path=path(s.store_path),
        store_capacity=s.store_capacity, store_synchronous=s.store_synchronous, handoff_capacity=s.handoff_capacity,
        commit_period_s=s.commit_period_s, live_window_s=s.live_window_s, backlog_rate=s.backlog_rate,
        batch_max_events=s.batch_max_events, request_timeout_s=s.request_timeout_s, downlink_wait_s=s.downlink_wait_s,
        rates={c: float(getattr(rates, c)) for c in RATE_CHANNELS},
        foxglove_enabled=s.foxglove_enabled, foxglove_host=s.foxglove_host, foxglove_port=s.foxglove_port,
        foxglove_backlog=s.foxglove_backlog, viz_rate=s.viz_rate, urdf_path=s.urdf_path,
        geofences_file=s.geofences_file, geofence_site=s.geofence_site,
        blackbox_pre_s=s.blackbox_pre_s, blackbox_post_s=s.blackbox_post_s, blackbox_max_bytes=s.blackbox_max_bytes,
        recordings_dir=path(s.recordings_dir).resolve(), stats_period_s=s.stats_period_s,
        recording_upload_rate=s.recording_upload_rate, model_dir=path(s.model_dir),
        model_check_period_s=s.model_check_period_s, labelled_normal_period_s=s.labelled_normal_period_s,
        model_classify_period_s=s.model_classify_period_s, priority_lane=s.priority_lane,
        priority_max_events=s.priority_max_events, decision_url=_url("decision_url", s.decision_url),
    )
