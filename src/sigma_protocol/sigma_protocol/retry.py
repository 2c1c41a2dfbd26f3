"""Retry rules: which HTTP answers a device retries (re-signed, same events) and which it must not."""

from __future__ import annotations

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_retryable(status: int) -> bool:
    """Whether a client should retry (re-signed, same events) after this HTTP status."""
    return status in RETRYABLE_STATUSES
