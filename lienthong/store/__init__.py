"""Durable state of the gateway (SQLAlchemy 2): staging, watermarks, outbox, quarantine, tombstones."""

from lienthong.store.db import Store

__all__ = ["Store"]
