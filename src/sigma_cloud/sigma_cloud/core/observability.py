"""Prometheus metrics, JSON logs (request, robot and trace ids), optional OpenTelemetry tracing (off by default).

Tracing continues the W3C `traceparent` a robot sends (device protocol revision 1.1) in the HTTP server span, the
ingest span and the decision delivered to it (docs/device-protocol.md "Trace context", docs/cloud.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
import uuid
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
robot_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("robot_id", default="")
tracer_var: contextvars.ContextVar[Any] = contextvars.ContextVar("tracer", default=None)
# The caller's W3C trace context (trace id, its span id) as received, for log records when no cloud span is active
# (tracing off): a request carrying a traceparent still logs under that trace (docs/logs.md "The cloud's own logs").
request_trace_var: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("request_trace", default=("", ""))
# The robot a request's path names (/v1/devices/{id}/..., /v1/robots/{id}/...), for its log records.
_ROBOT_PATH_RE = re.compile(r"^/v1/(?:devices|robots)/([A-Za-z0-9._-]{1,128})(?:/|$)")


class Metrics:
    """One registry per app instance, so apps can start and stop repeatedly in one process (tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram("sigma_http_request_seconds", "HTTP request latency", ["method", "route", "status"],
                                  registry=self.registry, buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
        self.batches = Counter("sigma_ingest_batches_total", "ingest batches by outcome", ["outcome"],
                               registry=self.registry)
        self.events = Counter("sigma_ingest_events_total", "telemetry events durably stored", registry=self.registry)
        self.decision_ack = Histogram("sigma_decision_ack_seconds", "decision created -> acknowledged by the robot "
                                      "(applied, rejected or expired there)", ["outcome"], registry=self.registry,
                                      buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"ts": record.created, "level": record.levelname, "logger": record.name,
                                 "msg": record.getMessage(), "request_id": request_id_var.get()}
        robot_id = getattr(record, "robot_id", None) or robot_id_var.get()
        if robot_id:
            entry["robot_id"] = robot_id
        trace_id, span_id = log_ids()
        if trace_id:
            entry["trace_id"], entry["span_id"] = trace_id, span_id
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("sigma_cloud")
    # replaces an earlier call's JSON stream handler, keeps the others (the log store's, core/service_log.py)
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)] + [handler]
    root.setLevel(level)
    root.propagate = False


def make_tracer(exporter: str) -> Any:
    """An OpenTelemetry tracer, or None when tracing is off."""
    if exporter == "none":
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "sigma-cloud"}))
    if exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise RuntimeError("SIGMA_OTEL_EXPORTER=otlp needs the opentelemetry-exporter-otlp package; install it "
                               "or use 'console' / 'none'") from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return provider.get_tracer("sigma_cloud")


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the active span as hex, or ("", "") when there is none or tracing is off."""
    try:
        from opentelemetry import trace
    except ImportError:
        return "", ""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def log_ids() -> tuple[str, str]:
    """(trace id, span id) for a log record: the active cloud span's, else the caller's traceparent as received."""
    ids = current_ids()
    return ids if ids[0] else request_trace_var.get()


def current_traceparent() -> str:
    """The active span as a W3C traceparent header value ("" when none)."""
    trace_id, span_id = current_ids()
    if not trace_id:
        return ""
    from opentelemetry import trace

    return f"00-{trace_id}-{span_id}-{int(trace.get_current_span().get_span_context().trace_flags):02x}"


def _context_of(traceparent: str | None) -> Any:
    """An OpenTelemetry context whose parent is `traceparent` (None when absent or malformed: a new trace)."""
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


@contextlib.contextmanager
def span(name: str, parent: str | None = None, **attributes: Any) -> Any:
    """A span of the request's tracer (a no-op when tracing is off), child of the current span or of `parent`."""
    tracer = tracer_var.get()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, context=_context_of(parent), attributes=attributes) as current:
        yield current


class RequestContextMiddleware:
    """Pure ASGI middleware: request id (X-Request-ID in and out), latency metric, access log, tracing span."""

    def __init__(self, app: Any, metrics: Metrics, tracer: Any = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer
        self.log = logging.getLogger("sigma_cloud.access")

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        log_tokens = _log_context(scope)
        status = {"code": 500}
        start = time.perf_counter()

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        server_span = context_token = None
        if self.tracer is not None:  # continue the caller's W3C trace context (device protocol revision 1.1)
            from opentelemetry import context as otel_context
            from opentelemetry import trace

            parent = dict(scope.get("headers") or []).get(b"traceparent", b"").decode("latin-1")
            server_span = self.tracer.start_span(
                f"{scope['method']} {scope['path']}", context=_context_of(parent if len(parent) <= 55 else ""),
                kind=trace.SpanKind.SERVER, attributes={"http.request.method": scope["method"],
                                                        "url.path": scope["path"]})
            context_token = otel_context.attach(trace.set_span_in_context(server_span))
        tracer_token = tracer_var.set(self.tracer)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            tracer_var.reset(tracer_token)
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route_path, str(status["code"])).observe(elapsed)
            if status["code"] >= 400 or self.log.isEnabledFor(logging.DEBUG):
                self.log.info("request", extra={"method": scope["method"], "path": scope["path"],
                                                "status": status["code"], "duration_ms": round(elapsed * 1e3, 2)})
            request_id_var.reset(token)
            for var, var_token in log_tokens:
                var.reset(var_token)
            if server_span is not None:  # ended after the access log, so the log record carries its ids
                from opentelemetry import context as otel_context
                from opentelemetry.trace import StatusCode

                server_span.set_attribute("http.response.status_code", status["code"])
                if status["code"] >= 500:
                    server_span.set_status(StatusCode.ERROR)
                if context_token is not None:  # set together with server_span
                    otel_context.detach(context_token)
                server_span.end()


def _log_context(scope: dict) -> list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]]:
    """Set the request's robot id (from its path) and received trace context for its log records; the tokens to
    reset them with."""
    tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = []
    match = _ROBOT_PATH_RE.match(scope.get("path", ""))
    if match:
        tokens.append((robot_id_var, robot_id_var.set(match[1])))
    for name, value in scope.get("headers") or ():
        if name == b"traceparent":
            from sigma_protocol.tracecontext import parse_traceparent

            parsed = parse_traceparent(value.decode("latin-1"))
            if parsed is not None:
                tokens.append((request_trace_var, request_trace_var.set((parsed.trace_id, parsed.span_id))))
            break
    return tokens
