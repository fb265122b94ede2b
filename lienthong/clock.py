"""Naive-UTC time for the store (SQLite and PostgreSQL compare such values identically)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
