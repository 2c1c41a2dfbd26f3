"""The bridge's log uplink (docs/logs.md): its robot's `/rosout` records, structured, rate-limited, buffered and
shipped in signed batches (`sigma_protocol.logs`), exactly once by sequence per stream.

The ROS callback only converts a `rcl_interfaces/msg/Log` into a record dict and offers it to the pure core
(:mod:`sigma_bridge.log_buffer`) under a lock; one worker thread sends a batch every ``batch_period_s`` (sooner when a
full batch waits), one in flight, retrying with backoff while the cloud is away. The uplink reports its own trouble
through Python's `logging` (stderr), never through rclpy: its records would come back on `/rosout`.

The bridge's other worker threads (telemetry uplink, decisions, recordings, model adoption) log through Python's
`logging` too; `forward_to_rosout` hands their INFO+ records to the node's rclpy logger, so they reach `/rosout` (and
so the cloud) with the robot's logger name and severity, like every other node's records. The uplink's refusals
carry the request's W3C traceparent, so the robot's record and the cloud's record of one request share a trace id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from rcl_interfaces.msg import Log
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

import sigma_protocol as protocol
from sigma_bridge.log_buffer import LogBuffer, RateLimiter
from sigma_bridge.uplink import Backoff, UplinkClient
from sigma_bridge.workers import _Worker
from sigma_protocol import logs as wire
from sigma_ros_common.params import param
from sigma_ros_common.ros_params import load

log = logging.getLogger("sigma_bridge.logs")
# The log uplink's own trouble: on stderr only, never forwarded to /rosout (its records would come back to it).
log.propagate = False
if not log.handlers:
    log.addHandler(logging.StreamHandler())
FORWARDED = "sigma_bridge"  # the bridge's workers' stdlib loggers (sigma_bridge, sigma_bridge.recordings, ...)
# Reliable like rcl's rosout writers (each keeps its last 1000 records). KEEP_ALL on purpose: a keep-last reader
# shares one history among all writers, so a node logging in a loop would overwrite other nodes' records before the
# bridge reads them; keep-all pushes back on each writer instead, and only the flooding node's own writer overwrites
# its own oldest records. Volatile on purpose: a transient-local reader would get the last records again after a
# bridge restart, under a new stream (duplicates).
ROSOUT_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
SEVERITY_CHOICES = tuple(wire.SEVERITY_OF_NAME)


@dataclass(frozen=True)
class LogShipping:
    """Parameters ``logs.*`` of the bridge."""

    enabled: bool = param(True, description="ship this robot's /rosout records to the cloud (needs cloud_url)")
    min_severity: str = param("info", description="records below this severity are not shipped",
                              choices=SEVERITY_CHOICES)
    capacity: int = param(10_000, low=1, high=10_000_000,
                          description="records held while the cloud is away; when full, the oldest record of the "
                                      "lowest severity held is dropped first (counted)")
    batch_max_records: int = param(500, low=1, high=wire.MAX_LOG_RECORDS, description="records per request")
    batch_period_s: float = param(1.0, unit="s", low=0.05, high=60.0,
                                  description="a batch is sent this often (sooner when a full batch waits)")
    node_rate: float = param(20.0, unit="records/s", low=0.0, high=1e5,
                             description="DEBUG..WARN records shipped per node at most, sustained; 0 = no limit")
    node_burst: float = param(100.0, unit="records", low=1.0, high=1e6,
                              description="DEBUG..WARN records a node may ship at once above node_rate")
    error_rate: float = param(10.0, unit="records/s", low=0.0, high=1e5,
                              description="ERROR/FATAL records shipped per node at most, sustained (own bucket: "
                                          "a node's INFO loop never uses it up); 0 = no limit")
    error_burst: float = param(200.0, unit="records", low=1.0, high=1e6,
                               description="ERROR/FATAL records a node may ship at once above error_rate")


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with a trailing ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_record(msg: Any, robot_id: str) -> dict[str, Any] | None:
    """A `rcl_interfaces/msg/Log` of this robot's nodes as a wire record (without seq); None for other robots'.

    A robot's nodes log under `<robot_id>.<node>` (their namespace); the record keeps the whole logger name."""
    name = msg.name
    if not (name.startswith(robot_id) and (len(name) == len(robot_id) or name[len(robot_id)] == ".")):
        return None
    text = truncate(msg.msg, wire.MAX_MESSAGE_CHARS)
    stamp = msg.stamp
    rec = {"ts": stamp.sec + stamp.nanosec * 1e-9, "severity": int(msg.level),
           "node": truncate(name, wire.MAX_NAME_CHARS), "message": text,
           "file": truncate(msg.file, wire.MAX_FILE_CHARS), "function": truncate(msg.function, wire.MAX_NAME_CHARS),
           "line": min(max(int(msg.line), 0), 2**31 - 1)}
    trace = wire.find_trace_id(text)
    if trace:
        rec["trace_id"] = trace
    return rec


class LogUplink(_Worker):
    """Holds the buffer and rate limit; `on_log` from the ROS callback, batches from its own thread."""

    def __init__(self, client: UplinkClient | None, robot_id: str, p: LogShipping, *,
                 stream: int | None = None) -> None:
        super().__init__("bridge-logs")
        self.client, self.robot_id, self.p = client, robot_id, p
        self.stream = time.time_ns() // 1000 if stream is None else stream  # one per bridge incarnation
        self.min_level = wire.SEVERITY_OF_NAME[p.min_severity]
        self.buffer = LogBuffer(p.capacity)
        self.limiter = RateLimiter(p.node_rate, p.node_burst, p.error_rate, p.error_burst)
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.backoff = Backoff(base=0.2, cap=5.0)
        self.path = wire.LOGS_PATH.format(robot_id=robot_id)
        self.counts = {"received": 0, "shipped": 0, "refused": 0, "batches": 0, "failures": 0}
        self.connected = False
        self.last_error = ""
        self.max_records = p.batch_max_records
        self._sent_dropped: dict[str, dict[str, int]] = {}  # the drop counters the cloud has acknowledged
        self.subscription: Any = None  # the /rosout subscription (its node destroys it)

    # ---- ROS side (executor thread) ----------------------------------------------------------------------------
    def on_log(self, msg: Any) -> None:
        """The /rosout callback: convert, rate-limit, buffer."""
        if msg.level < self.min_level:
            return
        rec = to_record(msg, self.robot_id)
        if rec is None:
            return
        with self.lock:
            self.counts["received"] += 1
            # by the record's own stamp: the limit is on how fast the node logs, not on when the bridge reads it
            if not self.limiter.allow(rec["node"], rec["severity"], rec["ts"]):
                self.buffer.count_rate_limited(rec["severity"])
                return
            self.buffer.add(rec)
            full = len(self.buffer) >= self.max_records
        if full:
            self.wake.set()

    # ---- worker ----------------------------------------------------------------------------------------------
    def step(self, now: float) -> bool:
        """Send one batch; True when another may follow at once."""
        with self.lock:
            batch = self.buffer.take(self.max_records)
            dropped = {r: {k: n for k, n in c.items() if n} for r, c in self.buffer.dropped.items()}
            dropped = {r: c for r, c in dropped.items() if c}
        if not batch and not dropped:
            return False
        if not batch and dropped == self._sent_dropped:  # nothing new to say
            return False
        body = wire.encode_log_batch(self.robot_id, self.stream, batch, dropped)
        kind, detail, ack = self._send(body, now)
        if kind == "acked":
            assert ack is not None
            with self.lock:
                self.buffer.ack_through(ack.acked_through if batch else 0)
                if batch and ack.acked_through < batch[-1]["seq"]:  # cannot happen with a well-behaved cloud
                    self.buffer.release()
            self._sent_dropped = dropped
            self.counts["batches"] += 1
            self.counts["shipped"] += ack.accepted
            self.counts["refused"] += ack.refused
            self.connected, self.last_error = True, ""
            self.backoff.reset()
            return bool(batch) and len(batch) >= self.max_records
        with self.lock:
            self.buffer.release()
        self.counts["failures"] += 1
        self.connected, self.last_error = False, detail
        if kind == "split" and self.max_records > 1:
            self.max_records = max(1, self.max_records // 2)
            return True
        if kind == "refused":  # the cloud can never take this batch: dropping it is the only way forward
            with self.lock:
                self.buffer.ack_through(batch[-1]["seq"] if batch else 0)
                for rec in batch:
                    self.buffer.dropped["buffer"][wire.severity_name(rec["severity"])] += 1
            log.error("cloud refused a log batch for good (%s); its %d records are counted as dropped",
                      detail, len(batch))
            return True
        self.stop_event.wait(self.backoff.next_delay())
        return False

    def _send(self, body: bytes, now: float) -> tuple[str, str, wire.LogAck | None]:
        assert self.client is not None
        try:
            r = self.client.request("POST", self.path, body, now)
        except httpx.HTTPError as exc:
            return "retry", f"{type(exc).__name__}: {exc}", None
        if r.status_code == 200:
            return "acked", "", wire.LogAck.from_json(orjson.loads(r.content))
        detail = f"HTTP {r.status_code}: {r.text[:300]}"
        if r.status_code == 413:
            return "split", detail, None
        if r.status_code == 400:
            return "refused", detail, None
        if r.status_code == 409 or protocol.is_retryable(r.status_code):
            return "retry", detail, None
        return "fatal", detail, None  # 401/403/404: credentials or registration; keep the records, retry

    def run(self) -> None:
        while not self.stop_event.is_set():
            more = False
            try:
                more = self.step(time.time())
            except Exception as exc:  # noqa: BLE001 - a bad batch must not end log shipping; report and go on
                self.error = exc
                log.error("log uplink step failed: %s", exc)
            if not more:
                self.wake.wait(self.p.batch_period_s)
                self.wake.clear()

    def stats(self) -> dict[str, Any]:
        """Counters for the bridge's diagnostics."""
        with self.lock:
            dropped = {f"logs.dropped.{r}.{k}": n for r, c in self.buffer.dropped.items() for k, n in c.items() if n}
            held = len(self.buffer)
        return {**{f"logs.{k}": v for k, v in self.counts.items()}, "logs.held": held, **dropped}


class RosoutForwarder(logging.Handler):
    """Python `logging` records of the bridge's worker threads -> the node's rclpy logger (so `/rosout`)."""

    def __init__(self, ros_logger: Any) -> None:
        super().__init__(logging.INFO)
        self.ros_logger = ros_logger
        self.addFilter(lambda record: not record.name.startswith(log.name))  # never the log uplink's own

    def emit(self, record: logging.LogRecord) -> None:
        # one call site per severity: rclpy ties a severity to the line that logs (it refuses a change)
        try:
            text = f"{record.getMessage()} [{record.name}]"
            if record.levelno >= logging.CRITICAL:
                self.ros_logger.fatal(text)
            elif record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            else:
                self.ros_logger.info(text)
        except Exception:  # noqa: BLE001 - logging must never take a worker thread down
            self.handleError(record)


def forward_to_rosout(node: Node) -> RosoutForwarder:
    """Forward the bridge's stdlib records (INFO and up) to `node`'s rclpy logger; one forwarder per process (a
    later node replaces an earlier one's)."""
    logger = logging.getLogger(FORWARDED)
    for old in [h for h in logger.handlers if isinstance(h, RosoutForwarder)]:
        logger.removeHandler(old)
    forwarder = RosoutForwarder(node.get_logger())
    logger.addHandler(forwarder)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return forwarder


def attach(node: Node, robot_id: str, client: UplinkClient | None,
           subscribe: Callable[..., Any] | None = None) -> LogUplink | None:
    """Forward the bridge's own stdlib records to /rosout; declare ``logs.*`` and subscribe to /rosout through
    ``subscribe`` (default: the node's executor). None when shipping is off or there is no cloud."""
    forward_to_rosout(node)
    p = load(node, LogShipping, "logs")
    if not p.enabled or client is None:
        return None
    uplink = LogUplink(client, robot_id, p)
    uplink.subscription = (subscribe or node.create_subscription)(Log, "/rosout", uplink.on_log, ROSOUT_QOS)
    return uplink
