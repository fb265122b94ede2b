"""The gauges an operator alerts on, computed from the store, for StatsD and Prometheus.

Per target: the outbox backlog (live rows by state) and the age of its oldest live row (a backlog
that only grows, or a row that never leaves, is the first sign of a stuck target), dead letters, the
delivery rate over a recent window, and the circuit breaker (state and consecutive failures; the row
of ``target_state`` every worker shares). Per route: open quarantine entries.  A dead letter or a
quarantine entry that a newer version settled is ``superseded`` (``lienthong.store.settle``) and is not
counted: the gauges show what still needs a person.

Four small queries whatever the store's size: the live rows are read through the partial index the
claims use (``ix_outbox_live``); dead letters and recent acknowledgements in one grouped pass. StatsD
is configured like Airflow's own ``[metrics] statsd_*`` options (``AIRFLOW__METRICS__STATSD_HOST`` ...),
so a deployment that already ships Airflow's metrics gets the gateway's to the same place, under
their own prefix (``LIENTHONG_METRICS_PREFIX``, default ``lienthong``). Nothing here carries a record's
content or an error text: metrics are names and numbers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased

from lienthong import states
from lienthong.clock import utcnow
from lienthong.errors import ConfigError
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow, QuarantineEntry, TargetState
from lienthong.store.outbox import live_bucket

#: Breaker states as numbers (a gauge): alert on ``> 0``.
BREAKER_CODES = {"closed": 0, "half_open": 1, "open": 2}
DEFAULT_WINDOW = 300.0  # seconds over which the delivery rate is measured


@dataclass(frozen=True)
class TargetMetrics:
    target: str
    backlog: dict[str, int]  # live rows by state (pending, retry_scheduled, in_flight) and blocked
    oldest_live_seconds: float  # age of the oldest live row that is not blocked; 0 when there is none
    dead: int
    acknowledged_recent: int  # acknowledged within the window
    rate: float  # rows acknowledged per second over the window
    breaker: str
    breaker_failures: int

    @property
    def backlog_total(self) -> int:
        return sum(self.backlog.values())


@dataclass(frozen=True)
class GatewayMetrics:
    taken_at: datetime
    window_seconds: float
    targets: list[TargetMetrics]
    quarantine_open: dict[str, int] = field(default_factory=dict)  # by route

    def to_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat(timespec="seconds") + "Z",
            "window_seconds": self.window_seconds,
            "targets": [{**vars(t), "backlog_total": t.backlog_total} for t in self.targets],
            "quarantine_open": dict(self.quarantine_open),
        }


def collect(
    store: Store,
    *,
    window: float = DEFAULT_WINDOW,
    now: datetime | None = None,
    targets: list[str] | None = None,
) -> GatewayMetrics:
    """Read the gauges from the store. ``targets`` names targets to report even when they have no row
    yet (from the target files); others appear once they have outbox rows or breaker state."""
    now = now or utcnow()
    since = now - timedelta(seconds=window)
    parent = aliased(OutboxRow, name="parent")
    bucket = live_bucket(parent)
    live = (
        select(OutboxRow.target, bucket, func.count(), func.min(OutboxRow.created_at))
        .outerjoin(parent, parent.id == OutboxRow.parent_id)
        .where(OutboxRow.state.in_(states.LIVE_STATES))
    )
    done = select(
        OutboxRow.target,
        func.sum(case((OutboxRow.state == states.DEAD, 1), else_=0)),
        func.sum(case((OutboxRow.acknowledged_at >= since, 1), else_=0)),
    ).where(or_(OutboxRow.state == states.DEAD, OutboxRow.acknowledged_at >= since))
    quarantine = (
        select(QuarantineEntry.route, func.count())
        .where(QuarantineEntry.state == "open")
        .group_by(QuarantineEntry.route)
    )
    with store.session() as session:
        live_rows = session.execute(live.group_by(OutboxRow.target, bucket)).all()
        done_rows = session.execute(done.group_by(OutboxRow.target)).all()
        breakers = {row.target: row for row in session.execute(select(TargetState)).scalars()}
        quarantine_open = {route: int(count) for route, count in session.execute(quarantine)}
    backlog: dict[str, dict[str, int]] = {}
    oldest: dict[str, datetime] = {}
    for target, state, count, first in live_rows:
        backlog.setdefault(target, {})[state] = int(count)
        if state == states.BLOCKED:
            continue  # waits for a person (the dead letter is the alert), not for this target
        if first is not None and (target not in oldest or first < oldest[target]):
            oldest[target] = first
    finished = {target: (int(dead or 0), int(acked or 0)) for target, dead, acked in done_rows}
    names = sorted(set(targets or ()) | set(backlog) | set(finished) | set(breakers))
    result = []
    for name in names:
        dead, acked = finished.get(name, (0, 0))
        breaker = breakers.get(name)
        result.append(
            TargetMetrics(
                target=name,
                backlog={s: backlog.get(name, {}).get(s, 0) for s in (*states.LIVE_STATES, states.BLOCKED)},
                oldest_live_seconds=max(0.0, (now - oldest[name]).total_seconds()) if name in oldest else 0.0,
                dead=dead,
                acknowledged_recent=acked,
                rate=acked / window if window > 0 else 0.0,
                breaker=breaker.breaker if breaker else "closed",
                breaker_failures=int(breaker.failures) if breaker else 0,
            )
        )
    return GatewayMetrics(
        taken_at=now, window_seconds=window, targets=result, quarantine_open=quarantine_open
    )


# --- StatsD -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatsdSettings:
    host: str = "localhost"
    port: int = 8125
    prefix: str = "lienthong"
    enabled: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StatsdSettings:
        """Airflow's ``[metrics]`` variables: one StatsD configuration for Airflow and the gateway."""
        env = os.environ if env is None else env
        return cls(
            host=env.get("AIRFLOW__METRICS__STATSD_HOST", cls.host),
            port=int(env.get("AIRFLOW__METRICS__STATSD_PORT", cls.port)),
            prefix=env.get("LIENTHONG_METRICS_PREFIX", cls.prefix),
            enabled=env.get("AIRFLOW__METRICS__STATSD_ON", "").lower() in ("1", "true", "yes"),
        )


def _optional(module: str) -> Any:
    """The StatsD and Prometheus clients come with the ``airflow`` extra; say so if they are missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"metrics need the {module} package: pip install -e '.[airflow]'") from None


def _stat_name(value: str) -> str:
    """A target name as one StatsD path segment (no dots, colons, pipes or spaces)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)


def statsd_gauges(metrics: GatewayMetrics) -> dict[str, float]:
    """``name -> value`` without the prefix, e.g. ``outbox.backlog.dvcqg``."""
    gauges: dict[str, float] = {}
    for t in metrics.targets:
        name = _stat_name(t.target)
        gauges[f"outbox.backlog.{name}"] = t.backlog_total
        for state, count in t.backlog.items():
            gauges[f"outbox.{state}.{name}"] = count
        gauges[f"outbox.oldest_live_seconds.{name}"] = round(t.oldest_live_seconds, 3)
        gauges[f"outbox.dead.{name}"] = t.dead
        gauges[f"delivery.rate.{name}"] = round(t.rate, 3)
        gauges[f"breaker.state.{name}"] = BREAKER_CODES.get(t.breaker, 2)
        gauges[f"breaker.failures.{name}"] = t.breaker_failures
    for route, count in metrics.quarantine_open.items():
        gauges[f"quarantine.open.{_stat_name(route)}"] = count
    return gauges


def emit_statsd(metrics: GatewayMetrics, settings: StatsdSettings | None = None, client: Any = None) -> int:
    """Send every gauge (batched into few UDP packets); returns how many were sent."""
    if client is None:
        statsd = _optional("statsd")

        settings = settings or StatsdSettings.from_env()
        client = statsd.StatsClient(settings.host, settings.port, prefix=settings.prefix)
    gauges = statsd_gauges(metrics)
    with client.pipeline() as pipe:
        for name, value in gauges.items():
            pipe.gauge(name, value)
    return len(gauges)


# --- Prometheus ---------------------------------------------------------------------------------------
def to_prometheus(metrics: GatewayMetrics) -> str:
    """The text exposition format (``prometheus_client``), for a scrape endpoint."""
    _optional("prometheus_client")
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    def families() -> list[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "lienthong_outbox_backlog", "Live outbox rows per target and state", labels=["target", "state"]
        )
        oldest = GaugeMetricFamily(
            "lienthong_outbox_oldest_live_seconds", "Age of the oldest live outbox row", labels=["target"]
        )
        dead = GaugeMetricFamily("lienthong_outbox_dead", "Dead letters per target", labels=["target"])
        rate = GaugeMetricFamily(
            "lienthong_delivery_rate", "Rows acknowledged per second over the window", labels=["target"]
        )
        breaker = GaugeMetricFamily(
            "lienthong_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", labels=["target"]
        )
        failures = GaugeMetricFamily(
            "lienthong_breaker_failures", "Consecutive failed calls", labels=["target"]
        )
        for t in metrics.targets:
            for state, count in t.backlog.items():
                backlog.add_metric([t.target, state], count)
            oldest.add_metric([t.target], t.oldest_live_seconds)
            dead.add_metric([t.target], t.dead)
            rate.add_metric([t.target], t.rate)
            breaker.add_metric([t.target], BREAKER_CODES.get(t.breaker, 2))
            failures.add_metric([t.target], t.breaker_failures)
        quarantine = GaugeMetricFamily(
            "lienthong_quarantine_open", "Open quarantine entries per route", labels=["route"]
        )
        for route, count in metrics.quarantine_open.items():
            quarantine.add_metric([route], count)
        return [backlog, oldest, dead, rate, breaker, failures, quarantine]

    class _Snapshot:
        def collect(self):  # noqa: ANN202 - prometheus_client's collector protocol
            return families()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())
    return generate_latest(registry).decode("utf-8")
