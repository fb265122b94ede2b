"""The DAG's ``remap`` run parameter: before the transform task maps what was pulled, bring the records
already delivered up to the current mapping (``lienthong.remap``), so the run's delivery batches carry
the changed payloads with everything else.

Triggered with ``{"remap": true}`` (``airflow dags trigger dossier_sync --conf '{"remap": true}'`` or the
trigger form's parameter).  The remap only queues (``deliver=False``): the run's own ``deliver`` tasks
send the rows, its ``reconcile`` accounts for them.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def remap_step(route_name: str, actor: str, gateway: Any = None) -> dict[str, Any]:
    """Queue the route's delivered records whose payload the current mapping changes; the counts."""
    from lienthong.remap import Selection, remap

    own = gateway is None
    if own:
        from lienthong.airflow.tasks import open_gateway

        gateway = open_gateway()
    try:
        result = remap(gateway, Selection(route=route_name), actor=actor, deliver=False)
    finally:
        if own:
            gateway.store.dispose()
    counts = {
        "checked": result.checked,
        "changed": len(result.changed),
        "queued_rows": result.queued_rows,
        "review_rows": result.review_rows,
        "not_delivered": result.not_delivered,
        "failing": len(result.failing),
        "now_filtered": result.now_filtered,
    }
    log.info(
        "route %s: remap checked %d delivered record(s): %d changed under mapping %s, %d outbox row(s) "
        "queued (%d to review); left alone: %d not acknowledged yet, %d failing the current mapping",
        route_name, result.checked, len(result.changed), result.mapping_version[:19], result.queued_rows,
        result.review_rows, result.not_delivered, len(result.failing),
    )  # fmt: skip
    return counts
