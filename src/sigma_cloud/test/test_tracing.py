"""One trace from a robot's batch through ingest to a decision and back (W3C traceparent, device protocol revision
1.1), recorded with the OpenTelemetry SDK's in-memory span exporter; JSON logs carry the robot and trace ids."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from conftest import ServerThread
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import sigma_protocol as protocol
from sigma_cloud.core.embedded import free_port
from sigma_cloud.core.observability import JsonFormatter, RequestContextMiddleware


@pytest.fixture(scope="module")
def traced(cloud: Any) -> Iterator[tuple[httpx.Client, InMemorySpanExporter]]:
    """A replica of the service whose tracer exports to memory (same database as `cloud`)."""
    from sigma_cloud.app.main import create_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(cloud.settings, cloud.runtime, run_maintenance=False)
    for middleware in app.user_middleware:  # the tracer the settings would build, replaced by the in-memory one
        if middleware.cls is RequestContextMiddleware:
            middleware.kwargs["tracer"] = provider.get_tracer("test")
    port = free_port()
    with ServerThread(app, port), httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client, exporter


def signed(robot: Any, method: str, path: str, body: bytes, traceparent: str) -> dict[str, str]:
    headers = protocol.sign_request(robot.seed, method, path, robot.robot_id, body, time.time())
    headers[protocol.HEADER_TRACEPARENT] = traceparent  # outside the signed string (docs/device-protocol.md)
    if body:
        headers["Content-Type"] = "application/json"
    return headers


def finished(exporter: InMemorySpanExporter, name: str) -> dict[str, Any]:
    """Finished spans by name, once `name` is among them (a server span ends just after its response is sent)."""
    deadline = time.monotonic() + 30
    while True:
        spans = {s.name: s for s in exporter.get_finished_spans()}
        if name in spans or time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


def test_batch_to_decision_and_back_is_one_trace(cloud: Any, traced: tuple[httpx.Client, InMemorySpanExporter]) -> None:
    client, exporter = traced
    exporter.clear()
    robot = cloud.robot("trace-1")
    root = protocol.new_traceparent()  # the robot's uplink span
    body = protocol.encode_batch(robot.robot_id, robot.events(3, time.time()))
    r = client.post(protocol.INGEST_PATH, content=body, headers=signed(robot, "POST", protocol.INGEST_PATH, body,
                                                                        root.header()))
    assert r.status_code == 200, r.text
    # A decision made on this telemetry (here by a fleet admin) joins the trace of the robot's newest batch.
    created = cloud.http.post("/v1/decisions", headers=cloud.token(), json={
        "robot_id": robot.robot_id, "action": "inspect", "confidence": 0.8, "ttl_s": 60})
    assert created.status_code == 201, created.text
    path = protocol.DECISIONS_PATH.format(robot_id=robot.robot_id)
    poll = protocol.new_traceparent()  # the long-poll's own trace: the decision brings its trace back regardless
    r = client.get(path, headers=signed(robot, "GET", path, b"", poll.header()))
    assert r.status_code == 200, r.text
    (decision,) = protocol.decode_decisions(r.content)
    delivered = protocol.parse_traceparent(decision.traceparent)
    assert delivered is not None and delivered.trace_id == root.trace_id
    ack_span = protocol.child_traceparent(delivered)  # the robot continues the decision's trace in its ack
    ack_path = protocol.DECISION_ACK_PATH.format(robot_id=robot.robot_id, decision_id=decision.decision_id)
    ack_body = protocol.encode_decision_ack("applied", "relayed", time.time())
    r = client.post(ack_path, content=ack_body, headers=signed(robot, "POST", ack_path, ack_body, ack_span.header()))
    assert r.status_code == 200, r.text

    spans = finished(exporter, f"POST {ack_path}")
    trace_id = int(root.trace_id, 16)
    server_ingest = spans[f"POST {protocol.INGEST_PATH}"]
    ingest = spans["sigma.ingest.batch"]
    deliver = spans["sigma.decision.deliver"]
    server_ack = spans[f"POST {ack_path}"]
    assert {s.context.trace_id for s in (server_ingest, ingest, deliver, server_ack)} == {trace_id}
    assert server_ingest.parent.span_id == int(root.span_id, 16)  # continues the robot's span
    assert ingest.parent.span_id == server_ingest.context.span_id
    assert ingest.attributes["sigma.robot_id"] == robot.robot_id and ingest.attributes["sigma.batch.accepted"] == 3
    assert deliver.parent.span_id == ingest.context.span_id  # the decision hangs off the ingest it was made on
    assert int(delivered.span_id, 16) == deliver.context.span_id
    assert server_ack.parent.span_id == int(ack_span.span_id, 16)
    assert spans[f"GET {path}"].context.trace_id == int(poll.trace_id, 16)  # the poll itself is its own trace


def test_malformed_traceparent_is_ignored_never_refused(cloud: Any, traced: tuple[httpx.Client, Any]) -> None:
    client, exporter = traced
    exporter.clear()
    robot = cloud.robot("trace-2")
    body = protocol.encode_batch(robot.robot_id, robot.events(1, time.time()))
    for bad in ("00-" + "0" * 32 + "-" + "1" * 16 + "-01", "garbage", "00-zz-11-01", "x" * 400):
        r = client.post(protocol.INGEST_PATH, content=body, headers=signed(robot, "POST", protocol.INGEST_PATH, body,
                                                                            bad))
        assert r.status_code == 200, r.text
    ingests = [s for s in exporter.get_finished_spans() if s.name == "sigma.ingest.batch"]
    assert len(ingests) == 4 and len({s.context.trace_id for s in ingests}) == 4  # each a fresh trace


def test_json_log_records_carry_robot_and_trace_ids(cloud: Any, traced: tuple[httpx.Client, Any]) -> None:
    client, _ = traced
    records: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(orjson.loads(JsonFormatter().format(record)))

    handler = Capture()
    log = logging.getLogger("sigma_cloud.access")
    log.addHandler(handler)
    try:
        robot = cloud.robot("trace-3")
        root = protocol.new_traceparent()
        body = b'{"robot_id":"trace-3","events":[]}'  # refused (400/422): refusals are logged
        r = client.post(protocol.INGEST_PATH, content=body, headers=signed(robot, "POST", protocol.INGEST_PATH, body,
                                                                            root.header()))
        assert r.status_code in (400, 422), r.text
    finally:
        log.removeHandler(handler)
    (entry,) = [e for e in records if e.get("path") == protocol.INGEST_PATH]
    assert entry["level"] == "INFO" and entry["status"] == r.status_code
    assert entry["robot_id"] == "trace-3" and entry["trace_id"] == root.trace_id
