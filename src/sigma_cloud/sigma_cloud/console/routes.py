"""Console routes: the page and its static files, sign-in, the site map, and each site's live event stream.

Not part of the OpenAPI document (include_in_schema=False): the page is HTML, and the JSON here serves the page only.
Same origin, same bearer JWT and RLS as /v1: the page keeps its token in sessionStorage and sends it as a header.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from sigma_cloud.api.deps import CurrentPrincipal, DbDep, PoolDep, require_role
from sigma_cloud.api.problems import ProblemError
from sigma_cloud.console import sitemap
from sigma_cloud.console.hub import RESYNC, ConsoleHub, sse
from sigma_cloud.console.passwords import DUMMY_HASH, verify_password
from sigma_cloud.core.db import Principal, transaction
from sigma_cloud.core.security import mint_token

router = APIRouter(include_in_schema=False)
SiteId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
# The page links its files by content hash (`console.js?v=<hash>`): that URL never changes meaning, so the browser
# keeps it for a year and a reload fetches only the page; any other URL of a file is revalidated each time.
IMMUTABLE = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
REVALIDATE = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
STREAM_LIFETIME_S = 25.0  # a stream ends after this; the page reconnects (lets a server shut down promptly)
HEARTBEAT_S = 5.0


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@functools.cache
def _asset(name: str) -> bytes:
    """A file of the page, read once from the package."""
    return resources.files("sigma_cloud.console").joinpath("static", name).read_bytes()


@functools.cache
def asset_version(name: str) -> str:
    """The first 16 hex digits of the file's SHA-256 (the `v` of its URL in the page)."""
    return hashlib.sha256(_asset(name)).hexdigest()[:16]


@functools.cache
def _page_html() -> bytes:
    html = _asset("index.html")
    for name in STATIC:
        url = f"/console/static/{name}"
        html = html.replace(f'"{url}"'.encode(), f'"{url}?v={asset_version(name)}"'.encode())
    return html


@router.get("/console")
async def page() -> Response:
    """The console page (one HTML document; views are drawn by console.js, linked by content hash)."""
    return Response(_page_html(), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/console/static/{name}")
async def static(name: str, v: str | None = None) -> Response:
    """console.js / console.css: cached for good under the URL the page links (its hash), revalidated otherwise."""
    if name not in STATIC:
        raise ProblemError(404, "not-found", f"no console file {name}")
    headers = IMMUTABLE if v == asset_version(name) else REVALIDATE
    return Response(_asset(name), media_type=STATIC[name], headers=headers)


@router.post("/console/api/login")
async def login(request: Request, body: Login, pool: PoolDep) -> dict[str, Any]:
    """Check a console user's password (sigma-cloud user add); answer the same bearer JWT the API takes."""
    nobody = Principal(subject="console-login", role="operator", sites=())
    async with transaction(pool, nobody) as conn:
        cur = await conn.execute("SELECT password_hash, role, sites FROM console_credentials(%s)", (body.username,))
        row = await cur.fetchone()
    stored, role, sites = row if row else (DUMMY_HASH, None, [])
    ok = await asyncio.to_thread(verify_password, body.password, stored)
    if not ok or role is None:
        raise ProblemError(401, "unauthenticated", "unknown user or wrong password")
    settings = request.app.state.settings
    token = mint_token(settings, request.app.state.jwt_key, subject=body.username, role=role, sites=list(sites),
                       now=time.time())
    return {"token": token, "role": role, "sites": list(sites), "subject": body.username,
            "expires_in": settings.jwt_ttl_s}


@router.get("/console/api/sites/{site_id}/map")
async def get_map(site_id: SiteId, conn: DbDep) -> dict[str, Any]:
    """The site's floor plan, or an empty one sized to nothing when none was uploaded."""
    cur = await conn.execute("SELECT map FROM site_maps WHERE site_id = %s", (site_id,))
    row = await cur.fetchone()
    if row is None:
        visible = await (await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site_id,))).fetchone()
        if visible is None:
            raise ProblemError(404, "not-found", f"no site {site_id}")
        return {"site_id": site_id, "map": None}
    return {"site_id": site_id, "map": row[0]}


@router.put("/console/api/sites/{site_id}/map")
async def put_map(site_id: SiteId, principal: CurrentPrincipal, pool: PoolDep,
                  body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Upload the site's floor plan (fleet admins, and site managers for their sites)."""
    require_role(principal, "fleet_admin", "site_manager")
    try:
        site_map = sitemap.validate(body)
    except sitemap.MapError as exc:
        raise ProblemError(422, "validation", str(exc)) from exc
    async with transaction(pool, principal) as conn:
        if await (await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site_id,))).fetchone() is None:
            raise ProblemError(404, "not-found", f"no site {site_id}")
        await conn.execute(
            "INSERT INTO site_maps (site_id, map, updated_by) VALUES (%s, %s::jsonb, %s) ON CONFLICT (site_id) DO "
            "UPDATE SET map = EXCLUDED.map, updated_by = EXCLUDED.updated_by, updated_at = now()",
            (site_id, orjson.dumps(site_map).decode(), principal.subject))
    return {"site_id": site_id, "map": site_map}


def hub_of(request: Request) -> ConsoleHub:
    hub = getattr(request.app.state, "console_hub", None)
    if hub is None:
        hub = request.app.state.console_hub = ConsoleHub(request.app.state.pool)
    return hub


@router.get("/console/api/sites/{site_id}/events")
async def events(request: Request, site_id: SiteId, principal: CurrentPrincipal, pool: PoolDep) -> StreamingResponse:
    """Server-sent events: a snapshot of the site, then deltas as robots report (one shared poll per site)."""
    hub = hub_of(request)
    # The caller must see the site. Sites' RLS is exactly `Principal.can_see_site` (fleet admin, or the site in the
    # token's sites); that the site exists is known without the database while a feed of it runs in this process
    # (it was started by a caller who passed the database check). Otherwise RLS decides (no transaction held after).
    if not (principal.can_see_site(site_id) and hub.watching(site_id)):
        async with transaction(pool, principal) as conn:
            visible = await (await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site_id,))).fetchone()
        if visible is None:
            raise ProblemError(404, "not-found", f"no site {site_id}")

    async def stream() -> AsyncIterator[bytes]:
        feed, queue = await hub.subscribe(site_id)
        try:
            yield sse("snapshot", feed.state.snapshot(time.time()))
            ends = time.monotonic() + STREAM_LIFETIME_S
            while time.monotonic() < ends:
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                # Deltas come serialized once for every browser of the site (hub.SiteFeed.publish).
                yield sse("snapshot", feed.state.snapshot(time.time())) if message == RESYNC else message
            yield sse("reconnect", {})
        finally:
            hub.unsubscribe(feed, queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
