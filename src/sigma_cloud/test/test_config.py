"""Settings: development defaults are refused outside development; tokens are checked strictly."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from sigma_cloud.core.config import Settings
from sigma_cloud.core.security import AuthError, mint_token, principal_from_token

STRONG = "k" * 40


def test_production_refuses_default_or_missing_secrets() -> None:
    with pytest.raises(ValidationError, match="jwt_secret must be set"):
        Settings(environment="production", DATABASE_URL="postgresql://db/sigma", api_db_password=STRONG)
    with pytest.raises(ValidationError, match="api_db_password"):
        Settings(environment="production", DATABASE_URL="postgresql://db/sigma", jwt_secret=STRONG,
                 api_db_password="dev-abc" + STRONG)
    with pytest.raises(ValidationError, match="DATABASE_URL must be set"):
        Settings(environment="production", jwt_secret=STRONG, api_db_password=STRONG)
    ok = Settings(environment="production", DATABASE_URL="postgresql://db/sigma", jwt_secret=STRONG,
                  api_db_password=STRONG)
    assert ok.database_url == "postgresql://db/sigma"


def test_tokens_are_verified_strictly() -> None:
    settings = Settings(environment="test")
    now = time.time()
    token = mint_token(settings, STRONG, subject="ann", role="operator", sites=["s1"], now=now)
    principal = principal_from_token(settings, STRONG, token)
    assert (principal.role, principal.sites, principal.subject) == ("operator", ("s1",), "ann")
    with pytest.raises(AuthError, match="Signature"):
        principal_from_token(settings, "x" * 40, token)
    expired = mint_token(settings, STRONG, subject="ann", role="operator", sites=[], now=now - 7200, ttl_s=60)
    with pytest.raises(AuthError, match="expired"):
        principal_from_token(settings, STRONG, expired)
    other = Settings(environment="test", jwt_audience="someone-else")
    with pytest.raises(AuthError, match=r"(?i)audience"):
        principal_from_token(other, STRONG, token)
    with pytest.raises(ValueError, match="role must be one of"):
        mint_token(settings, STRONG, subject="x", role="device", sites=[], now=now)
