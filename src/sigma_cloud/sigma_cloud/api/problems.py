"""RFC 9457 problem details: one exception type and the handlers that render every error as problem+json."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_BASE = "https://sigmaprompt.dev/problems/"
PROBLEM_TYPE = "application/problem+json"


class ProblemError(Exception):
    """An error answer: HTTP status, a short kind (the type URI suffix), and a detail saying what to do."""

    def __init__(self, status: int, kind: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, kind: str, detail: str, *, instance: str = "", headers: dict[str, str] | None = None,
                     **extra: Any) -> Response:
    from http import HTTPStatus

    body = {"type": PROBLEM_BASE + kind, "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers so no error leaves as anything but problem+json."""

    async def on_problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(exc.status, exc.kind, exc.detail, instance=request.url.path, headers=exc.headers,
                                **exc.extra)

    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                  for e in exc.errors()]
        return problem_response(422, "invalid-request", "the request does not match the schema",
                                instance=request.url.path, errors=errors)

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated",
                413: "body-too-large"}.get(exc.status_code, "http-error")
        return problem_response(exc.status_code, kind, str(exc.detail), instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


PROBLEM_SCHEMA = {
    "description": "Problem details (RFC 9457)",
    "content": {PROBLEM_TYPE: {"schema": {"type": "object", "required": ["type", "title", "status"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}}}}}},
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json answers for these status codes."""
    return {code: PROBLEM_SCHEMA for code in codes}


def problem_openapi(app: FastAPI) -> None:
    """Document every 4xx/5xx answer as problem+json (FastAPI's default 422 says application/json)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for code, response in operation.get("responses", {}).items():
                        if code[:1] in ("4", "5"):
                            response["content"] = PROBLEM_SCHEMA["content"]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented schema override
