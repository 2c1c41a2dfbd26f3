"""Request-body bounds for every route, enforced before routing, authentication or parsing (pure ASGI middleware).

A declared Content-Length over the route's bound is answered 413 at once, without reading the body; a chunked body
is counted as it streams and refused the moment it passes the bound. So an unauthenticated 50 MB POST costs the
server at most one bound's worth of memory, never the whole body.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sigma_cloud.api.problems import problem_response


class BodyTooLarge(HTTPException):
    """Raised from the wrapped `receive` once a streamed body passes its bound (rendered as 413 problem+json)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes for this route")


class BodyLimitMiddleware:
    """Refuse request bodies over `limit_for(path)` bytes (413 problem+json), before anything else reads them."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isascii() or not text.isdigit():
                await problem_response(400, "bad-request", "Content-Length is not a number",
                                       instance=scope["path"])(scope, receive, send)
                return
            if int(text) > limit:
                await problem_response(413, "body-too-large", f"request body of {text} bytes exceeds {limit} bytes "
                                       "for this route", instance=scope["path"],
                                       headers={"Connection": "close"})(scope, receive, send)
                return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, bounded_receive, send)
