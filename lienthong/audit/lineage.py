"""The life of one dossier, in order, for ``lienthong audit show``.

From the ledger (each source version pulled → its mapping verdict and version → the outbox rows
and payload digests → every attempt and the target's answer → acknowledged / retry / dead /
replayed), joined with the archived bodies by digest.  Bodies are masked unless ``unmask``;
an unmasked view is itself recorded in the ledger (who, when, which dossier: Decree 13/2023).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from lienthong.audit import actors, archive, events
from lienthong.audit.chain import Event, append_now
from lienthong.masking import mask_text
from lienthong.store.models import LedgerEntry, OutboxRow, StagedRecord


def _keys(store: Any, dossier: str) -> set[str]:
    """The dossier's code and the target keys its versions were queued under."""
    with store.session() as session:
        staged_ids = list(
            session.execute(select(StagedRecord.id).where(StagedRecord.record_key == dossier)).scalars()
        )
        keys = {dossier}
        for start in range(0, len(staged_ids), 500):
            keys.update(
                session.execute(
                    select(OutboxRow.record_key).where(
                        OutboxRow.staged_id.in_(staged_ids[start : start + 500])
                    )
                ).scalars()
            )
    return keys


def _body(text: str | None, unmask: bool) -> Any:
    if text is None:
        return None
    shown = text if unmask else mask_text(text)
    try:
        return json.loads(shown)
    except ValueError:
        return shown


def lineage(store: Any, dossier: str, *, unmask: bool = False, actor: str = "cli") -> list[dict[str, Any]]:
    """Every ledger entry of the dossier in seq order, with archived bodies attached where the entry
    names a digest (``payload`` for queued rows, ``request``/``response`` for attempts)."""
    keys = _keys(store, dossier)
    if unmask:
        append_now(
            store,
            [
                Event(
                    events.UNMASK,
                    record_key=dossier,
                    actor=actor,
                    outcome="shown",
                    detail=actors.stamp({"keys": sorted(keys)}),
                )
            ],
        )
        _sign(store)  # deleting this entry afterwards then shows as a truncation
    with store.session() as session:
        entries = list(
            session.execute(
                select(LedgerEntry).where(LedgerEntry.record_key.in_(sorted(keys))).order_by(LedgerEntry.seq)
            ).scalars()
        )
    details = [json.loads(entry.detail) for entry in entries]
    digests: set[str] = set()
    for detail in details:
        digests.update(r["payload_digest"] for r in detail.get("rows", ()))
        digests.update(d for d in (detail.get("request_digest"), detail.get("response_digest")) if d)
    problems: dict[str, str] = {}
    bodies = archive.get_many(store, digests, problems)  # a body not at its digest is refused
    routes = {e.route for e in entries if e.event == events.PULLED and e.record_key == dossier and e.route}
    steps = []
    for entry, detail in zip(entries, details, strict=True):
        step: dict[str, Any] = {
            "seq": entry.seq,
            "at": entry.at.isoformat(sep=" ", timespec="milliseconds"),
            "event": entry.event,
            "route": entry.route,
            "record_key": entry.record_key,
            "target": f"{entry.target}.{entry.operation}" if entry.target else None,
            "mapping_version": entry.mapping_version,
            "actor": entry.actor,
            "authenticated": detail.get("authenticated"),
            "other_route": bool(routes) and entry.route is not None and entry.route not in routes,
            "outcome": entry.outcome,
            "detail": detail,
        }
        for row in detail.get("rows", ()):
            row["payload"] = _body(bodies.get(row["payload_digest"]), unmask)
            if row["payload_digest"] in problems:
                row["payload_problem"] = problems[row["payload_digest"]]
        for name in ("request", "response"):
            wanted = detail.get(f"{name}_digest")
            if wanted:
                step[name] = _body(bodies.get(wanted), unmask)
                if wanted in problems:
                    step[f"{name}_problem"] = problems[wanted]
        steps.append(step)
    return steps


def _sign(store: Any) -> None:
    """A checkpoint right after an unmask entry, when the store has a signing key (never generated
    here: showing is not the place to create keys); a failure is logged, the view goes on."""
    import logging

    from lienthong.audit.checkpoints import make_checkpoint
    from lienthong.audit.config import config_for

    config = config_for(store)
    if not config.signing_key_file.exists():
        return
    try:
        make_checkpoint(store, config)
    except Exception as exc:  # noqa: BLE001 - the unmask entry is written; verify reports the tail
        logging.getLogger(__name__).warning("audit checkpoint not written: %s", type(exc).__name__)
