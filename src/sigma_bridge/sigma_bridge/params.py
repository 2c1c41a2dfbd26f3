"""The bridge node's parameters: declared with descriptors (defaults from config/sigma_bridge/bridge.yaml),
validated into one typed object. All are read-only at runtime (they size stores, sockets and threads that are
built once at configure); out-of-range values are refused by rclpy with the parameter's name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from sigma_bridge.store import SYNCHRONOUS_POLICIES

RATE_CHANNELS = ("joint_states", "actuator_health", "battery", "imu", "odom", "safety_status")
_RANGES: dict[str, tuple[float, float, str]] = {
    "store_capacity": (1, 2**40, "events held at most before the oldest routine telemetry is dropped"),
    "handoff_capacity": (1, 10**7, "routine events buffered in memory between ROS callbacks and the store"),
    "commit_period_s": (0.001, 5.0, "group-commit period of the store writer [s]"),
    "live_window_s": (0.0, 3600.0, "events younger than this go before the backlog [s]"),
    "backlog_rate": (1.0, 1e7, "backlog events/s sent at most after an outage"),
    "batch_max_events": (1, 10_000, "events per ingest request"),
    "request_timeout_s": (0.1, 120.0, "HTTP timeout per request [s]"),
    "downlink_wait_s": (0.0, 25.0, "long-poll duration of the decision downlink [s]"),
    "foxglove_port": (0, 65535, "live view WebSocket port (0 = any free port)"),
    "foxglove_backlog": (1, 100_000, "messages buffered per WebSocket client"),
    "viz_rate": (0.1, 200.0, "live view update rate [Hz]"),
    "blackbox_pre_s": (0.1, 600.0, "seconds of topics kept before a safety event"),
    "blackbox_post_s": (0.0, 600.0, "seconds recorded after a safety event"),
    "blackbox_max_bytes": (1024, 2**34, "memory bound of the black box window [bytes]"),
    "stats_period_s": (0.05, 60.0, "diagnostics period [s]"),
}
_TEXT = {
    "robot_id": "robot id (empty: the node namespace)",
    "cloud_url": "cloud base URL (device protocol v1); empty disables up- and downlink",
    "key_file": "robot Ed25519 key file ({robot_id} is substituted); generated 0600 if missing",
    "store_path": "store-and-forward SQLite file ({robot_id} is substituted)",
    "store_synchronous": f"SQLite synchronous policy, one of {SYNCHRONOUS_POLICIES}",
    "foxglove_enabled": "serve the Foxglove live view",
    "foxglove_host": "live view bind address",
    "urdf_path": "robot URDF for the live view transforms",
    "geofences_file": "geofence YAML drawn in the live view (sigma_safety's format or a list); empty = none",
    "geofence_site": "site of the geofence YAML to draw",
    "recordings_dir": "black box MCAP directory ({robot_id} is substituted)",
}


def share_dir() -> Path:
    """The installed share directory (falls back to the repository root when run from source)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("sigma_bridge"))
    except Exception:  # noqa: BLE001 - not installed: run from the source tree
        return Path(os.environ.get("SIGMA_ROOT", Path(__file__).resolve().parents[3]))


def defaults_file() -> Path:
    return share_dir() / "config" / "sigma_bridge" / "bridge.yaml"


def load_defaults(path: Path | None = None) -> dict:
    """The ``/**: ros__parameters`` mapping of bridge.yaml, nested ``rates`` flattened to ``rates.<channel>``."""
    path = path or defaults_file()
    data = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    flat = {k: v for k, v in data.items() if k != "rates"}
    flat.update({f"rates.{k}": float(v) for k, v in data.get("rates", {}).items()})
    return flat


@dataclass(frozen=True)
class BridgeParams:
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
    urdf_path: Path
    geofences_file: str
    geofence_site: str
    blackbox_pre_s: float
    blackbox_post_s: float
    blackbox_max_bytes: int
    recordings_dir: Path
    stats_period_s: float


def _descriptor(name: str, value: object) -> ParameterDescriptor:
    if name.startswith("rates."):
        ch = name.split(".", 1)[1]
        return ParameterDescriptor(description=f"uplink rate of {ch} [Hz]; 0 = every message", read_only=True,
                                   floating_point_range=[FloatingPointRange(from_value=0.0, to_value=1000.0, step=0.0)])
    if name in _RANGES:
        lo, hi, text = _RANGES[name]
        if isinstance(value, int) and not isinstance(value, bool):
            return ParameterDescriptor(description=text, read_only=True,
                                       integer_range=[IntegerRange(from_value=int(lo), to_value=int(hi), step=1)])
        return ParameterDescriptor(description=text, read_only=True,
                                   floating_point_range=[FloatingPointRange(from_value=lo, to_value=hi, step=0.0)])
    return ParameterDescriptor(description=_TEXT.get(name, name), read_only=True)


def declare(node: Node) -> BridgeParams:
    """Declare every parameter with its descriptor and return them validated (ValueError names the parameter)."""
    defaults = load_defaults()
    for name, value in defaults.items():
        node.declare_parameter(name, value, _descriptor(name, value))
    v = {name: node.get_parameter(name).value for name in defaults}
    robot_id = str(v["robot_id"]) or node.get_namespace().strip("/")
    if not robot_id or "/" in robot_id:
        raise ValueError(f"parameter robot_id: {robot_id!r} is empty or nested; set it or run in /<robot_id>")
    sync = str(v["store_synchronous"]).upper()
    if sync not in SYNCHRONOUS_POLICIES:
        raise ValueError(f"parameter store_synchronous: {sync!r} is not one of {SYNCHRONOUS_POLICIES}")
    missing = [c for c in RATE_CHANNELS if f"rates.{c}" not in v]
    if missing:
        raise ValueError(f"parameters rates.{missing[0]} missing from {defaults_file()}")

    def path(key: str) -> Path:
        return Path(str(v[key]).replace("{robot_id}", robot_id))

    return BridgeParams(
        robot_id=robot_id, cloud_url=str(v["cloud_url"]), key_file=path("key_file"), store_path=path("store_path"),
        store_capacity=int(v["store_capacity"]), store_synchronous=sync, handoff_capacity=int(v["handoff_capacity"]),
        commit_period_s=float(v["commit_period_s"]), live_window_s=float(v["live_window_s"]),
        backlog_rate=float(v["backlog_rate"]), batch_max_events=int(v["batch_max_events"]),
        request_timeout_s=float(v["request_timeout_s"]), downlink_wait_s=float(v["downlink_wait_s"]),
        rates={c: float(v[f"rates.{c}"]) for c in RATE_CHANNELS},
        foxglove_enabled=bool(v["foxglove_enabled"]), foxglove_host=str(v["foxglove_host"]),
        foxglove_port=int(v["foxglove_port"]), foxglove_backlog=int(v["foxglove_backlog"]),
        viz_rate=float(v["viz_rate"]), urdf_path=path("urdf_path"), geofences_file=str(v["geofences_file"]),
        geofence_site=str(v["geofence_site"]),
        blackbox_pre_s=float(v["blackbox_pre_s"]), blackbox_post_s=float(v["blackbox_post_s"]),
        blackbox_max_bytes=int(v["blackbox_max_bytes"]), recordings_dir=path("recordings_dir"),
        stats_period_s=float(v["stats_period_s"]),
    )
