"""Routes hold no SQL (one repository module per resource does), and a database error is answered by one mapping
that never puts the database's own text in front of a client."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from sigma_cloud.api.db_errors import problem_for

PACKAGE = Path(__file__).resolve().parents[1] / "sigma_cloud"
SQL = re.compile(r"\.execute\(|\b(SELECT|INSERT INTO|UPDATE|DELETE FROM)\s+\w", re.I)


def test_no_sql_in_the_api_layer():
    offenders = [f"{p.relative_to(PACKAGE)}:{n}: {line.strip()}"
                 for p in sorted((PACKAGE / "api").rglob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if SQL.search(line) and not line.lstrip().startswith(("#", '"""'))]
    assert not offenders, "SQL belongs in sigma_cloud/repositories/:\n" + "\n".join(offenders)
    assert {p.stem for p in (PACKAGE / "repositories").glob("*.py")} >= {"robots", "sites", "telemetry", "decisions",
                                                                         "safety", "audit", "devices"}


SECRET = 'relation "robots" violates check constraint "robots_secret_chk" DETAIL: Failing row contains (r1, s3cr3t)'


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (psycopg.errors.InsufficientPrivilege(SECRET), 403, "forbidden"),
    (psycopg.errors.NumericValueOutOfRange(SECRET), 422, "invalid-value"),
    (psycopg.OperationalError(SECRET), 503, "unavailable"),
    (psycopg.errors.UndefinedTable(SECRET), 500, "internal"),
])
def test_database_errors_map_once_and_never_leak_their_text(exc, status, kind, caplog):
    problem = problem_for(exc, where="/v1/robots")
    assert (problem.status, problem.kind) == (status, kind)
    assert "s3cr3t" not in problem.detail and "robots_secret_chk" not in problem.detail
    if status == 503:
        assert problem.headers == {"Retry-After": "1"}
    if status in (422, 500, 503):
        assert "s3cr3t" in caplog.text  # the operator still sees it, in the server log
    assert problem_for(psycopg.errors.InsufficientPrivilege(), forbidden="you may not").detail == "you may not"
