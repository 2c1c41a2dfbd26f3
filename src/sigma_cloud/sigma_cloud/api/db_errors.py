"""The one mapping from a database error to the problem+json answer. Database error text never reaches a client:
it is logged here with the request's path, and the client gets a stable kind and a sentence that says what to do."""

from __future__ import annotations

import logging

import psycopg

from sigma_cloud.api.problems import ProblemError

log = logging.getLogger("sigma_cloud.db")


def problem_for(exc: psycopg.Error, *, where: str = "", forbidden: str = "") -> ProblemError:
    """The answer for ``exc``: 403 (row-level security refused), 422 (a value the database refused), 503 (database
    unreachable or the pool exhausted, with Retry-After) or 500. ``forbidden`` replaces the generic 403 sentence."""
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return ProblemError(403, "forbidden", forbidden or "not permitted for your role or sites")
    if isinstance(exc, psycopg.DataError):
        log.warning("database refused a value at %s: %s", where or "?", exc)
        return ProblemError(422, "invalid-value", "the database refused a value of this request; check the ranges "
                            "and formats in the API description (/docs)")
    if isinstance(exc, psycopg.OperationalError):  # includes psycopg_pool.PoolTimeout
        log.warning("database unavailable at %s: %s", where or "?", exc)
        return ProblemError(503, "unavailable", "the database is unavailable; retry with backoff",
                            headers={"Retry-After": "1"})
    log.error("database error at %s: %s", where or "?", exc)
    return ProblemError(500, "internal", "internal database error")
