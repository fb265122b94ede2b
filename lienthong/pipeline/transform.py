"""Transform: map staged record versions and queue what changed in the outbox.

Per staged version: prepare (NFC, embedded JSON) → select (``filtered`` when outside the route's
selection) → map (``quarantined`` with every field error when it fails) → compare the payload hash
with the newest outbox row of the same target key (``unchanged`` when equal: a change to an unmapped
source field sends nothing) → a new outbox row, superseding older versions that were never sent.

A new version of a key that the target already acknowledged, where the target operation has no
update (``on_change: review``, the BHXH registration), goes to ``review``: a person decides.

A version that is quarantined, filtered or unchanged settles its record's older open quarantine
entries (and, filtered, its older dead/review rows) in the chunk's transaction
(``lienthong.store.settle_mapping``); a mapped version settles them once it is acknowledged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update

from connectors.targets import TargetSpec
from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.errors import FieldError, MappingError
from lienthong.jsoncanon import canonical, digest
from lienthong.pipeline import followups
from lienthong.pipeline.followups import PartRow, latest_groups
from lienthong.store import leases
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow, QuarantineEntry, StagedRecord
from lienthong.store.outbox import KeyHistory, key_histories, supersede_older
from lienthong.store.settle_mapping import settle_quarantine_at_mapping, settle_rows_of_filtered
from lienthong.store.staging import pending_staged
from lienthong.store.unstageable import placeholder_reason
from lienthong.workers import lease_seconds, worker_id

log = logging.getLogger(__name__)

CHUNK = 500


@dataclass(frozen=True)
class Output:
    """Where one part of a mapped record goes: the main payload or a follow-up list."""

    name: str  # "main" or the follow-up's name
    target: str
    operation: str
    items_per_row: bool
    on_change: str
    #: Items one call may carry (the operation's ``batch_size`` when it has ``items_per_row``): a
    #: follow-up with more is queued as part-rows (``lienthong.pipeline.followups``).
    max_items: int | None = None


@dataclass
class TransformResult:
    processed: int = 0
    mapped: int = 0
    quarantined: int = 0
    filtered: int = 0
    unchanged: int = 0
    rows_created: int = 0
    superseded: int = 0
    review: int = 0
    settled: int = 0  # older alarms (quarantine entries, dead/review rows) a newer version's verdict closed
    quarantine_messages: list[str] = field(default_factory=list)
    skipped: str | None = None  # why this run did not map (another process holds the route's mapping)


def outputs_of(route, target_specs: dict[str, TargetSpec]) -> list[Output]:  # noqa: ANN001
    """The main output and the follow-ups of a route, in delivery order."""
    target = route.raw["target"]
    main_op = target_specs[target["name"]].operation(target["operation"])
    outputs = [Output("main", target["name"], target["operation"], main_op.items_per_row, main_op.on_change)]
    for followup in route.raw.get("followups") or []:
        spec = target_specs[followup["target"]["name"]].operation(followup["target"]["operation"])
        outputs.append(
            Output(
                followup["name"],
                followup["target"]["name"],
                followup["target"]["operation"],
                True,
                spec.on_change,
                spec.batch_size if spec.items_per_row else None,
            )
        )
    return outputs


#: A transform that queued at least this many outbox rows refreshes the planner's statistics.
BULK_ROWS = 1000


def transform(
    store: Store,
    route,  # noqa: ANN001 - lienthong.mapping.Route
    compiled,  # noqa: ANN001 - lienthong.mapping.CompiledRoute
    target_specs: dict[str, TargetSpec],
    run_id: int,
    on_chunk: Callable[[int], None] | None = None,
) -> TransformResult:
    result = TransformResult()
    outputs = outputs_of(route, target_specs)
    # One mapper per route at a time: two processes mapping the same staged versions would both
    # queue version 1 of a key.  A process that finds the route being mapped only delivers.
    holder, lease_name = worker_id(), f"transform:{route.name}"
    try:
        leases.acquire(store, lease_name, holder, lease_seconds("extract"))
    except leases.LeaseHeld as held:
        log.warning("route %s: not mapping (%s); delivering only", route.name, held)
        result.skipped = str(held)
        return result
    try:
        audit_hooks.mapping_version(store, route.name, compiled.version)
        _transform_all(store, route, compiled, outputs, run_id, on_chunk, result, holder, lease_name)
    finally:
        leases.release(store, lease_name, holder)
    if result.rows_created >= BULK_ROWS:
        store.refresh_statistics("outbox", "staged_records")  # the claims that follow need a fresh plan
    return result


def _transform_all(store, route, compiled, outputs, run_id, on_chunk, result, holder, lease_name):  # noqa: ANN001, ANN202
    after_id = 0
    while True:
        chunk = pending_staged(store, route.name, CHUNK, after_id)
        if not chunk:
            return result
        after_id = chunk[-1].id
        _transform_chunk(store, route.name, compiled, outputs, chunk, run_id, result)
        leases.renew(store, lease_name, holder, lease_seconds("extract"))
        if on_chunk:
            on_chunk(len(chunk))


def _transform_chunk(store, route_name, compiled, outputs, chunk, run_id, result) -> None:  # noqa: ANN001
    version = compiled.version
    result.processed += len(chunk)
    decisions: list[tuple[StagedRecord, str, Any]] = []  # (staged, verdict, detail)
    for staged in chunk:
        try:
            record = compiled.prepare(_staged_body(route_name, staged))
            selected, reason = compiled.select(record)
            if not selected:
                decisions.append((staged, states.FILTERED, reason))
                continue
            decisions.append((staged, states.MAPPED, compiled.map(record)))
        except MappingError as error:
            decisions.append((staged, states.QUARANTINED, error))
        except Exception as exc:  # noqa: BLE001 - one record never stops the chunk (issue #17)
            decisions.append((staged, states.QUARANTINED, _unexpected(route_name, staged, exc)))
    now = utcnow()
    with store.session() as session:
        histories: dict[tuple[str, str, str], KeyHistory] = {}
        groups: dict[tuple[str, str, str], list[PartRow]] = {}
        for output in outputs:
            keys = [_output_key(detail) for _, verdict, detail in decisions if verdict == states.MAPPED]
            for key, history in key_histories(session, output.target, output.operation, keys).items():
                histories[(output.target, output.operation, key)] = history
            if output.max_items is not None:
                for key, group in latest_groups(session, output.target, output.operation, keys).items():
                    groups[(output.target, output.operation, key)] = group
        histories_and_groups = (histories, groups)
        staged_updates: list[dict[str, Any]] = []
        settling: list[tuple[str, int, str]] = []  # versions whose verdict settles older quarantine entries
        queued = audit_hooks.Queued(store)  # what the ledger and the archive record of this chunk
        for staged, verdict, detail in decisions:
            update_values: dict[str, Any] = {
                "id": staged.id,
                "mapping_version": version,
                "state_reason": None,
            }
            if verdict == states.FILTERED:
                update_values.update(state=states.FILTERED, state_reason=detail)
                result.filtered += 1
            elif verdict == states.QUARANTINED:
                _quarantine(session, route_name, staged, version, detail, now)
                update_values.update(state=states.QUARANTINED, state_reason=str(detail))
                result.quarantined += 1
                if len(result.quarantine_messages) < 20:
                    result.quarantine_messages.append(str(detail))
            else:
                created = _enqueue(
                    session, route_name, staged, version, detail, outputs, histories_and_groups, run_id, now, result, queued
                )
                update_values["state"] = states.MAPPED if created else states.UNCHANGED
                if created:
                    result.mapped += 1
                else:
                    result.unchanged += 1
            if update_values["state"] != states.MAPPED:  # a mapped version settles once acknowledged
                settling.append((staged.record_key, staged.id, update_values["state"]))
            staged_updates.append(update_values)
        if staged_updates:
            # One executemany by primary key, instead of loading and flushing each row.
            session.execute(update(StagedRecord), staged_updates)
        session.flush()  # this chunk's own quarantine entries: a newer version in it settles them too
        settled = settle_quarantine_at_mapping(session, route_name, settling, now)
        filtered = [(key, staged_id) for key, staged_id, verdict in settling if verdict == states.FILTERED]
        if filtered:
            settled += settle_rows_of_filtered(session, route_name, filtered, now)
        result.settled += len(settled)
        main = (outputs[0].target, outputs[0].operation)
        audit_hooks.transformed(
            session, store, route_name, version, decisions, queued, main, superseded=settled
        )  # last: the ledger's head lock is taken last


def _staged_body(route_name: str, staged: StagedRecord) -> Any:
    """The staged record; a placeholder (a record staging could not keep) is a ``MappingError`` of
    stage ``staging`` with the reason found then."""
    body = json.loads(staged.body)
    reason = placeholder_reason(body)
    if reason is not None:
        raise MappingError(route_name, staged.record_key, [FieldError("(record)", "staging", reason)])
    return body


def _unexpected(route_name: str, staged: StagedRecord, exc: Exception) -> MappingError:
    """A failure the mapping did not foresee on this record's data: quarantined, never the chunk's end.
    The message names the exception type only (its text could quote the record)."""
    log.warning("route %s: mapping %s failed unexpectedly (%s)", route_name, staged.record_key, type(exc).__name__)
    return MappingError(
        route_name,
        staged.record_key,
        [FieldError("(record)", "mapping", f"the record could not be mapped ({type(exc).__name__})")],
    )


def _output_key(mapped) -> str:  # noqa: ANN001
    return str(mapped.key)


def _quarantine(session, route_name, staged, version, error: MappingError, now) -> None:  # noqa: ANN001
    errors = [{"field": e.field, "rule": e.rule, "message": e.message} for e in getattr(error, "errors", [])]
    session.add(
        QuarantineEntry(
            route=route_name,
            record_key=staged.record_key,
            staged_id=staged.id,
            mapping_version=version,
            message=str(error),
            errors=json.dumps(errors, ensure_ascii=False),
            state="open",
            created_at=now,
        )
    )
    log.info("quarantined: %s", error)


def _enqueue(session, route_name, staged, version, mapped, outputs, known, run_id, now, result, queued) -> bool:  # noqa: ANN001, E501
    """Queue every output of a mapped record whose payload changed; True if any row was created.

    A follow-up over its operation's per-call limit becomes part-rows chained by ``parent_id``
    (``lienthong.pipeline.followups``); ``known`` is (histories, split groups) per output slot."""
    histories, groups = known
    key = _output_key(mapped)
    created_any = False
    parent_id: int | None = None
    for output in outputs:
        if output.name == "main":
            payload: Any = mapped.payload
            parts = [payload]
        else:
            payload = mapped.followups.get(output.name) or []
            if not payload:
                continue
            parts = followups.split(payload, output.max_items)
        texts = [canonical(part) for part in parts]
        hashes = [digest(text) for text in texts]
        slot = (output.target, output.operation, key)
        history = histories.get(slot)
        group = groups.get(slot)
        if (
            history is not None
            and history.latest_state != states.SUPERSEDED
            and followups.same_version(hashes, history.latest_hash, history.latest_seq, group)
        ):
            first_id, first_state = (
                (group[0].id, group[0].state)
                if group and group[-1].seq == history.latest_seq
                else (history.latest_id, history.latest_state)
            )
            if output.name == "main":
                parent_id = history.latest_id
            elif first_state in states.LIVE_STATES and parent_id is not None:
                # The same follow-up still waits, but its dossier has a new version: follow that one
                # (the old parent may never be acknowledged: superseded, or replayed as a new row).
                # A split follow-up: its first part follows the dossier, the others their part before.
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == first_id, OutboxRow.state.in_(states.LIVE_STATES))
                    .values(parent_id=parent_id)
                )
            continue
        first_seq = (history.latest_seq + 1) if history else 1
        state = states.PENDING
        error = None
        if output.on_change == "review" and history is not None and history.acknowledged_id is not None:
            state = states.REVIEW
            error = (
                f"a corrected version of {key} after {output.target} acknowledged it; "
                f"{output.target}.{output.operation} has no update: needs a person"
            )
            result.review += 1
        if history is not None and history.latest_state in (states.PENDING, states.RETRY_SCHEDULED):
            result.superseded += supersede_older(session, output.target, output.operation, key, first_seq)
        previous = parent_id if output.name != "main" else None
        created: list[PartRow] = []
        for index, (part, text, payload_hash) in enumerate(zip(parts, texts, hashes, strict=True)):
            seq = first_seq + index
            suffix = followups.marker(index, len(parts))
            values = dict(
                route=route_name,
                target=output.target,
                operation=output.operation,
                record_key=key,
                seq=seq,
                payload=queued.seal(text),  # personal data: sealed at rest
                payload_hash=payload_hash,
                item_count=len(part) if output.items_per_row and isinstance(part, list) else 1,
                mapping_version=version,
                idempotency_key=(
                    f"{route_name}/{output.target}.{output.operation}/{key}/{seq}/{payload_hash[7:23]}{suffix}"
                ),
                staged_id=staged.id,
                parent_id=previous,
                state=state,
                attempts=0,
                last_error=error,
                created_at=now,
                updated_at=now,
                run_id=run_id,
            )
            row_id = session.execute(insert(OutboxRow).returning(OutboxRow.id), values).scalar_one()
            queued.add(staged.id, values, row_id)
            created.append(PartRow(row_id, seq, payload_hash, state))
            if output.name == "main":
                parent_id = row_id
            else:
                previous = row_id  # part k+1 waits for part k
            result.rows_created += 1
        histories[slot] = KeyHistory(
            row_id, seq, hashes[-1], state, history.acknowledged_id if history else None
        )
        groups.pop(slot, None)
        if len(created) > 1:
            groups[slot] = created
        created_any = True
    return created_any
