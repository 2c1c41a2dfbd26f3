"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from sigma_cloud.api.problems import problem_response, responses
from sigma_cloud.core.fleet_metrics import FleetGauges
from sigma_cloud.repositories import health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses=responses(503))
async def readyz(request: Request) -> Response:
    """Ready when the database answers within 2 s."""
    try:
        async with request.app.state.pool.connection(timeout=2.0) as conn:
            await health.ping(conn)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem_response(503, "not-ready", f"database not reachable ({type(exc).__name__}); retry later",
                                headers={"Retry-After": "1"})
    return Response(b'{"status":"ready"}', media_type="application/json")


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition (fleet-state gauges refreshed from the database first)."""
    state = request.app.state
    if getattr(state, "fleet_gauges", None) is None:
        state.fleet_gauges = FleetGauges(state.metrics.registry, state.settings.robot_silent_after_s)
    await state.fleet_gauges.refresh(state.pool)
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
