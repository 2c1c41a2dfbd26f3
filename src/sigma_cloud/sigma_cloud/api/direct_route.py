"""An APIRoute served without FastAPI's per-request machinery, for the one hot endpoint (signed ingest, issue 16).

FastAPI describes the route exactly as any other (path, headers, responses, response model: it is in
`/openapi.json`), but at request time the endpoint is called with the Starlette `Request` alone: no dependency
resolution, no request-body parsing, no response-model validation or serialization. The endpoint therefore takes
only the request, reads what it needs from `request.app.state`, and returns a ready `Response`; errors it raises
(ProblemError, psycopg.Error) still reach the app's exception handlers (RFC 9457 problems), and the app's
middleware (body limits, request id, metrics, tracing) still wraps it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class DirectRoute(APIRoute):
    """Route class (``add_api_route(..., route_class_override=DirectRoute)``) whose handler is the endpoint itself."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        params = list(inspect.signature(endpoint).parameters.values())
        if not inspect.iscoroutinefunction(endpoint) or len(params) != 1:
            raise TypeError(f"{endpoint.__qualname__}: a DirectRoute endpoint is `async def f(request) -> Response`")
        if kwargs.get("dependencies"):
            raise TypeError(f"{endpoint.__qualname__}: a DirectRoute runs no dependencies")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint
