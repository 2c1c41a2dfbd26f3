"""Request dependencies: settings, pool, current principal (bearer JWT), RLS-scoped transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from sigma_cloud.api.db_errors import problem_for
from sigma_cloud.api.problems import ProblemError
from sigma_cloud.core.config import Settings
from sigma_cloud.core.db import Principal, transaction
from sigma_cloud.core.ingest import IngestService
from sigma_cloud.core.security import AuthError, principal_from_token

bearer = HTTPBearer(auto_error=False, description="OAuth2 bearer JWT with `role` and `sites` claims")


# The request-state dependencies are `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop per request that cost ~10 % of an ingest worker's CPU (bench/cloud_ingest_profile.py, docs/cloud.md).
async def app_settings(request: Request) -> Settings:
    """The settings the app was built with (``core.config.get_settings()`` is the one place they are read)."""
    return request.app.state.settings


async def get_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


async def get_ingest(request: Request) -> IngestService:
    return request.app.state.ingest


SettingsDep = Annotated[Settings, Depends(app_settings)]
PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
IngestDep = Annotated[IngestService, Depends(get_ingest)]


def current_principal(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    if credentials is None:
        raise ProblemError(401, "unauthenticated", "missing bearer token (Authorization: Bearer <jwt>)",
                      headers={"WWW-Authenticate": "Bearer"})
    try:
        return principal_from_token(request.app.state.settings, request.app.state.jwt_key, credentials.credentials)
    except AuthError as exc:
        raise ProblemError(401, "unauthenticated", str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def db_transaction(pool: PoolDep, principal: CurrentPrincipal) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction as the caller: PostgreSQL RLS decides what it sees and may write."""
    try:
        async with transaction(pool, principal) as conn:
            yield conn
    except psycopg.Error as exc:
        raise problem_for(exc, where="transaction", forbidden=f"role {principal.role} may not do this") from exc


DbDep = Annotated[psycopg.AsyncConnection, Depends(db_transaction)]


def require_role(principal: Principal, *roles: str) -> None:
    """Refuse early (403) for roles that may never do this; RLS still guards the rows."""
    if principal.role not in roles:
        raise ProblemError(403, "forbidden", f"role {principal.role} may not do this (needs one of {', '.join(roles)})")
