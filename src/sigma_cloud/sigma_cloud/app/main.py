"""Application factory: routers, problem handlers, middleware, and the lifespan that owns all resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from starlette.responses import Response

import sigma_protocol
from sigma_cloud.api import problems
from sigma_cloud.api.db_errors import problem_for
from sigma_cloud.api.limits import BodyLimitMiddleware
from sigma_cloud.api.routes import (
    cognition,
    decisions,
    devices,
    federated,
    health,
    logs,
    notifications,
    robots,
    safety,
    service_logs,
    sites,
    swarm,
    tasks,
    telemetry,
    twin,
)
from sigma_cloud.console.routes import router as console_router
from sigma_cloud.core import incident_response, maintenance, service_log
from sigma_cloud.core.bootstrap import Runtime, prepare
from sigma_cloud.core.config import Settings, get_settings
from sigma_cloud.core.db import make_pool
from sigma_cloud.core.group_call import nonce_claims
from sigma_cloud.core.ingest import IngestService
from sigma_cloud.core.notifier import DecisionNotifier
from sigma_cloud.core.observability import Metrics, RequestContextMiddleware, configure_logging, make_tracer


def body_limits(settings: Settings) -> Callable[[str], int]:
    """Per-route request-body bound: ingest batches up to max_body_bytes, everything else max_request_bytes."""
    def limit_for(path: str) -> int:
        return settings.max_body_bytes if path == sigma_protocol.INGEST_PATH else settings.max_request_bytes

    return limit_for


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, *,
               run_maintenance: bool = True) -> FastAPI:
    """Build the app. Without `runtime`, the lifespan prepares the database (embedded when DATABASE_URL is unset)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            rt = runtime or await asyncio.to_thread(prepare, settings)
            pool = make_pool(rt.api_url, min_size=settings.pool_min_size, max_size=settings.pool_max_size,
                             timeout=settings.pool_timeout_s)
            await pool.open(wait=True, timeout=30)
            stack.push_async_callback(pool.close)
            notifier = DecisionNotifier(rt.api_url)
            await notifier.start()
            stack.push_async_callback(notifier.stop)
            app.state.settings = settings
            app.state.pool = pool
            app.state.jwt_key = rt.jwt_secret
            app.state.runtime = rt
            # Batches get their own connections, one per admission slot (core/ingest.py: a bulkhead beside `pool`).
            ingest_pool = make_pool(rt.api_url, min_size=1, max_size=settings.ingest_concurrency,
                                    timeout=settings.pool_timeout_s)
            await ingest_pool.open(wait=True, timeout=30)
            stack.push_async_callback(ingest_pool.close)
            # The priority lane's reserved connections (docs/device-protocol.md "Priority lane", issue 15).
            priority_pool = make_pool(rt.api_url, min_size=1, max_size=settings.ingest_priority_slots,
                                      timeout=settings.pool_timeout_s)
            await priority_pool.open(wait=True, timeout=30)
            stack.push_async_callback(priority_pool.close)
            app.state.ingest = IngestService(settings, pool, ingest_pool=ingest_pool, notifier=notifier,
                                             priority_pool=priority_pool)
            app.state.nonce_claims = nonce_claims(pool)  # the long-polls' nonces, group-committed (core/group_call.py)
            stack.push_async_callback(app.state.nonce_claims.close)
            app.state.notifier = notifier
            app.state.metrics = metrics
            # the process's own log records into the log store (docs/logs.md "The cloud's own logs")
            stack.enter_context(service_log.attach("api", rt.api_url, settings.log_store_level))
            if run_maintenance:
                for job in (asyncio.create_task(maintenance.loop(rt.owner_url, settings), name="maintenance"),
                            asyncio.create_task(incident_response.loop(pool, settings), name="incident-response")):

                    async def _cancel(task: asyncio.Task = job) -> None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

                    stack.push_async_callback(_cancel)
            # What start-up built lives as long as the process: move it out of the cyclic collector's reach, so the
            # collections a 1000-event ingest batch triggers do not walk the whole heap (docs/cloud.md, issue 16).
            gc.freeze()
            yield

    configure_logging(settings.log_level)
    app = FastAPI(title="SigmaPrompt Fleet API", version="1.0.0", lifespan=lifespan,
                  description="Fleet REST API and signed device ingest (docs/cloud.md, docs/device-protocol.md).")
    problems.install(app)

    async def on_db_error(request: Request, exc: psycopg.Error) -> Response:
        problem = problem_for(exc, where=request.url.path)
        return problems.problem_response(problem.status, problem.kind, problem.detail, instance=request.url.path,
                                         headers=problem.headers or None)

    app.add_exception_handler(psycopg.Error, on_db_error)
    for module in (health, devices, robots, telemetry, sites, decisions, safety, tasks, swarm, notifications,
                   cognition, federated, twin, logs, service_logs):
        app.include_router(module.router)
    app.include_router(console_router)  # the fleet console page (docs/console.md), outside the OpenAPI document
    problems.problem_openapi(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, tracer=make_tracer(settings.otel_exporter))
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limits(settings))  # outermost: before auth and parsing
    app.state.metrics = metrics
    return app
