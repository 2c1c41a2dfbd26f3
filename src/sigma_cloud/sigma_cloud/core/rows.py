"""The one row of a query that always answers exactly one (an aggregate, a function call, a one-row table)."""

from __future__ import annotations

from typing import TypeVar

Row = TypeVar("Row")


def one_row(row: Row | None, query: str) -> Row:
    """``row`` (what ``fetchone()`` returned), or a RuntimeError naming ``query`` when there was none."""
    if row is None:
        raise RuntimeError(f"{query}: expected one row, got none")
    return row
