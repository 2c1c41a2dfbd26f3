"""The cloud's own log records into the log store (migration 0063 `service_logs`, docs/logs.md).

A stdlib `logging.Handler` on the `sigma_cloud` and `uvicorn.error` loggers of every cloud process (API workers,
cognition worker, migrate, maintenance). `emit` runs on the logging thread and only builds a small dict (the record's
service, process, severity, message, robot id, request id and the trace/span id of the current OpenTelemetry span,
else of the caller's W3C traceparent) and appends it to a bounded in-memory queue: it never waits for the database,
so a request is never held up by its own logging. A writer thread sends the queue in batches (one
`service_logs_write()` call each) on its own connection as the NOLOGIN role `sigma_log_writer`, which may call that
function and nothing else.

Bounded and counted: when the queue is full (the store unreachable for long, or a flood of records) a new record is
dropped and counted per severity; the counts reach the store as a WARNING record of their own once it accepts writes
again, and `stats()` reports them. Never recursive: the writer reports its own trouble on stderr through a logger that
does not propagate, and records made on the writer thread are never queued.

One shipper per process (`attach` is reference-counted): several apps in one process (tests) share it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg

from sigma_cloud.core.observability import log_ids, request_id_var, robot_id_var

LOGGERS = ("sigma_cloud", "uvicorn.error")
EXTRA_KEYS = ("method", "path", "status", "duration_ms")
MAX_MESSAGE = 4096
WRITER_ROLE = "sigma_log_writer"
_WRITE = "SELECT service_logs_write(%s::jsonb)"  # migration 0064: one JSON array of records per batch

_trouble = logging.getLogger("sigma_cloud_service_log")  # outside "sigma_cloud": never shipped, never recursive
_trouble.propagate = False
if not _trouble.handlers:
    _trouble.addHandler(logging.StreamHandler(sys.stderr))


def severity_of(levelno: int) -> int:
    """A Python level as the store's severity (the rcl levels robot_logs uses: 10, 20, 30, 40, 50)."""
    return min(50, max(10, levelno // 10 * 10))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def default_instance() -> str:
    """Which process wrote a record: host (a Kubernetes pod's name) and process id."""
    return _cut(f"{socket.gethostname()}:{os.getpid()}", 128)


def to_row(record: logging.LogRecord, service: str, instance: str, formatter: logging.Formatter) -> dict[str, Any]:
    """The stored form of a record, read on the thread that logged it (its request, robot and trace context)."""
    extra = {key: getattr(record, key) for key in EXTRA_KEYS if hasattr(record, key)}
    if record.exc_info:
        extra["exc"] = _cut(formatter.formatException(record.exc_info), MAX_MESSAGE)
    trace_id, span_id = log_ids()
    robot_id = getattr(record, "robot_id", None) or robot_id_var.get()
    request_id = request_id_var.get()
    return {"ts": record.created, "service": service, "instance": instance, "severity": severity_of(record.levelno),
            "logger": _cut(record.name, 256), "message": _cut(record.getMessage(), MAX_MESSAGE),
            "robot_id": _cut(str(robot_id), 128) if robot_id else "", "trace_id": trace_id, "span_id": span_id,
            "request_id": request_id[:64] if request_id != "-" else "", "extra": extra}


class StoreHandler(logging.Handler):
    """Queue records for the store; never blocks, never recurses, counts what it cannot keep."""

    def __init__(self, service: str, *, level: int = logging.INFO, capacity: int = 10_000,
                 instance: str | None = None) -> None:
        super().__init__(level)
        self.service = _cut(service, 64)
        self.instance = instance or default_instance()
        self.capacity = capacity
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.dropped: dict[int, int] = {}  # severity -> records dropped since the last report
        self.dropped_total = 0
        self.writer_thread: threading.Thread | None = None
        self.wake = threading.Event()
        self._fmt = logging.Formatter()
        self._mutex = threading.Lock()  # the queue's; emit() already runs under the Handler's own lock

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is self.writer_thread:
            return  # the writer's own records (e.g. a library it calls): never fed back into the store
        try:
            row = to_row(record, self.service, self.instance, self._fmt)
        except Exception:  # noqa: BLE001 - a bad format string in a caller's log call; stdlib reports it
            self.handleError(record)
            return
        with self._mutex:
            if len(self.queue) >= self.capacity:
                self.dropped[row["severity"]] = self.dropped.get(row["severity"], 0) + 1
                self.dropped_total += 1
                return
            self.queue.append(row)
            full = len(self.queue) >= 500
        if full:
            self.wake.set()

    def take(self, limit: int) -> tuple[list[dict[str, Any]], dict[int, int]]:
        """Up to `limit` queued records (oldest first) and the drop counts not yet reported (then reset)."""
        with self._mutex:
            batch = [self.queue.popleft() for _ in range(min(limit, len(self.queue)))]
            dropped, self.dropped = self.dropped, {}
        return batch, dropped

    def give_back(self, batch: list[dict[str, Any]], dropped: dict[int, int]) -> None:
        """A batch the store did not take goes back in front (what no longer fits is dropped, counted)."""
        with self._mutex:
            room = max(0, self.capacity - len(self.queue))
            keep, lost = batch[:room], batch[room:]
            self.queue.extendleft(reversed(keep))
            for severity, n in dropped.items():
                self.dropped[severity] = self.dropped.get(severity, 0) + n
            for row in lost:
                self.dropped[row["severity"]] = self.dropped.get(row["severity"], 0) + 1
                self.dropped_total += 1

    def count_lost(self, rows: list[dict[str, Any]]) -> None:
        """Records that will never be stored: counted as dropped (reported with the next write)."""
        with self._mutex:
            for row in rows:
                self.dropped[row["severity"]] = self.dropped.get(row["severity"], 0) + 1
                self.dropped_total += 1

    def pending(self) -> int:
        with self._mutex:
            return len(self.queue)


def drop_report(handler: StoreHandler, dropped: dict[int, int]) -> dict[str, Any]:
    """The WARNING record that tells the store how many records of which severity it did not receive."""
    names = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal"}
    counts = {names[s]: n for s, n in sorted(dropped.items())}
    return {"ts": time.time(), "service": handler.service, "instance": handler.instance, "severity": 30,
            "logger": "sigma_cloud.service_log", "message": f"{sum(counts.values())} log records dropped (queue "
            f"full at {handler.capacity}): {orjson.dumps(counts).decode()}", "robot_id": "", "trace_id": "",
            "span_id": "", "request_id": "", "extra": {"dropped": counts}}


def encode_batch(rows: list[dict[str, Any]]) -> str:
    """The batch as one JSON array; a NUL character (PostgreSQL text cannot hold it) becomes U+FFFD, and a value
    JSON cannot hold becomes its str()."""
    return orjson.dumps(rows, default=str).replace(b"\\u0000", b"\\ufffd").decode()


def write_batch(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> int:
    """Store `rows` with one service_logs_write() call (as sigma_log_writer); returns how many were stored."""
    result = conn.execute(_WRITE, (encode_batch(rows),)).fetchone()
    return int(result[0]) if result else 0


class Shipper:
    """The handler on the process's loggers and its writer thread."""

    def __init__(self, handler: StoreHandler, *, batch_max: int = 1000, period_s: float = 0.5,
                 max_rate: float = 5000.0) -> None:
        self.handler = handler
        self.batch_max = batch_max
        self.period_s = period_s
        self.max_rate = max_rate  # records/s this process writes at most: a flood of records (e.g. every refused
        # request of an overload logged) fills the queue and is dropped, counted, instead of loading the database
        self.url: str | None = None
        self.stop_event = threading.Event()
        self.written = 0
        self.failures = 0
        self.flushed = threading.Condition()

    def start(self, url: str) -> None:
        """Begin writing to the store at `url` (the API's login role; records queued before are sent first)."""
        if self.handler.writer_thread is not None:
            return
        self.url = url
        thread = threading.Thread(target=self._run, name="sigma-service-log", daemon=True)
        self.handler.writer_thread = thread
        thread.start()

    def _connect(self) -> psycopg.Connection:
        assert self.url is not None
        conn = psycopg.connect(self.url, autocommit=True, application_name="sigma-log-writer", connect_timeout=5)
        try:
            conn.execute(f"SET ROLE {WRITER_ROLE}")
        except BaseException:
            conn.close()  # e.g. a login role without sigma_log_writer: retried later, nothing leaks
            raise
        return conn

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        backoff = 0.2
        while True:
            stopping = self.stop_event.is_set()
            if not stopping:
                self.handler.wake.wait(self.period_s)
                self.handler.wake.clear()
            batch, dropped = self.handler.take(self.batch_max)
            rows = batch + ([drop_report(self.handler, dropped)] if dropped else [])
            if rows:
                try:
                    conn = conn if conn is not None and not conn.closed else self._connect()
                    started = time.monotonic()
                    self.written += write_batch(conn, rows)
                    backoff = 0.2
                    pause = len(rows) / self.max_rate - (time.monotonic() - started)
                    if pause > 0 and not stopping:
                        self.stop_event.wait(pause)
                except (psycopg.DataError, psycopg.IntegrityError) as exc:  # never storable: drop it, counted
                    self.failures += 1
                    self.handler.give_back([], dropped)  # the earlier drop counts still go with the next write
                    self.handler.count_lost(batch)
                    _trouble.warning("service log: a batch of %d records refused by the store (%s); dropped",
                                     len(rows), exc)
                    continue
                except (psycopg.Error, OSError) as exc:
                    self.failures += 1
                    self.handler.give_back(batch, dropped)
                    if conn is not None:
                        conn.close()
                    conn = None
                    _trouble.warning("service log: %d records not stored yet (%s); retrying", len(rows), exc)
                    if stopping:
                        break
                    self.stop_event.wait(backoff)
                    backoff = min(5.0, backoff * 2)
                    continue
            with self.flushed:
                self.flushed.notify_all()
            if stopping and self.handler.pending() == 0:
                break
        if conn is not None:
            conn.close()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued now has been offered to the store (True when the queue emptied)."""
        deadline = time.monotonic() + timeout
        while self.handler.pending() and time.monotonic() < deadline and self.handler.writer_thread is not None:
            self.handler.wake.set()
            with self.flushed:
                self.flushed.wait(min(0.2, max(0.0, deadline - time.monotonic())))
        return self.handler.pending() == 0

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is queued (within `timeout`), then end the writer."""
        self.stop_event.set()
        self.handler.wake.set()
        thread = self.handler.writer_thread
        if thread is not None:
            thread.join(timeout)

    def stats(self) -> dict[str, int]:
        return {"pending": self.handler.pending(), "written": self.written, "failures": self.failures,
                "dropped": self.handler.dropped_total}


_lock = threading.Lock()
_shipper: Shipper | None = None
_users = 0


def install(service: str, level: str | int = "INFO") -> Shipper | None:
    """Put the store handler on this process's loggers (records queue until `Shipper.start`) and count this user;
    every call is matched by one `release()`. None when `level` is "OFF" (then `release()` does nothing)."""
    global _shipper, _users
    if isinstance(level, str) and level.upper() == "OFF":
        return None
    with _lock:
        if _shipper is None:
            numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
            handler = StoreHandler(service, level=numeric)
            for name in LOGGERS:
                logging.getLogger(name).addHandler(handler)
            _shipper = Shipper(handler)
        _users += 1
        return _shipper


def release(timeout: float = 5.0) -> None:
    """One user less; the last one sends what is queued (within `timeout`), stops the writer and takes the handler
    off the loggers."""
    global _shipper, _users
    with _lock:
        if _shipper is None:
            return
        _users -= 1
        if _users > 0:
            return
        ship, _shipper = _shipper, None
    ship.stop(timeout)
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(ship.handler)


def shipper() -> Shipper | None:
    """This process's shipper, if installed."""
    return _shipper


@contextlib.contextmanager
def attach(service: str, url: str, level: str | int = "INFO") -> Iterator[Shipper | None]:
    """Ship this process's records to the store at `url` while the block runs (shared by every app of the
    process: the first one's service name and database are used)."""
    ship = install(service, level)
    if ship is None:
        yield None
        return
    ship.start(url)
    try:
        yield ship
    finally:
        release()
