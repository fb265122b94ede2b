"""Named leases in the store: "one extractor per route at a time", across processes and machines.

A lease expires, so a holder that died (SIGKILL, a lost Airflow worker) does not block the route
forever; a live holder renews it while it works.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lienthong.clock import utcnow
from lienthong.store.db import Store
from lienthong.store.models import Lease
from lienthong.workers import holder_is_dead


class LeaseHeld(Exception):
    """Somebody else holds the lease; the message says who and until when."""


def acquire(store: Store, name: str, holder: str, ttl_seconds: float) -> None:
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    try:
        with store.session() as session:
            lease = session.execute(
                select(Lease).where(Lease.name == name).with_for_update()
            ).scalar_one_or_none()
            if lease is None:
                session.add(Lease(name=name, holder=holder, acquired_at=now, expires_at=expires))
                return
            if lease.holder != holder and lease.expires_at > now and not holder_is_dead(lease.holder):
                raise LeaseHeld(
                    f"{name} is held by {lease.holder} until {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC"
                )
            lease.holder, lease.acquired_at, lease.expires_at = holder, now, expires
    except IntegrityError as exc:  # a concurrent first acquisition won the insert
        raise LeaseHeld(f"{name} was just taken by another process") from exc


def renew(store: Store, name: str, holder: str, ttl_seconds: float) -> None:
    with store.session() as session:
        lease = session.get(Lease, name)
        if lease is None or lease.holder != holder:
            raise LeaseHeld(f"{name} is no longer held by {holder}")
        lease.expires_at = utcnow() + timedelta(seconds=ttl_seconds)


def release(store: Store, name: str, holder: str) -> None:
    with store.session() as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
