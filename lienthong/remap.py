"""Remap: bring records already delivered up to the current mapping (a code list or a field rule was
fixed after they were sent).

``resync`` pulls records again but finds them ``unchanged`` at the source, so a mapping fix never
reaches what the target already holds.  Remap takes the **latest staged version** of each selected
record whose fate is known (``mapped`` or ``unchanged``: quarantined records are ``quarantine replay``'s,
filtered ones stay out of scope), maps it with the current mapping and compares each output's payload
with the one the target **acknowledged** last (a follow-up split into part-rows as a whole version, every
part in order, as the transform compares it).  Only records whose payload differs are queued: new
outbox versions after whatever is live for their key, through the same outbox, retries and ledger as
any change (``_enqueue`` of the transform, so follow-ups, ``on_change: review`` and the ordering rules
are the transform's own).  A target operation without an update (``on_change: review``, the BHXH
registration) gets the new version in ``review``: a person decides, nothing is sent by itself.

The staged versions are not touched (re-staging would rewrite the state of past versions and the
reconciliations made of them): the new rows point at the same ``staged_id`` and carry the current
``mapping_version``; each record queued gets a ``remapped`` ledger entry.

"Sent under an older mapping" counts records whose payload *would differ*, not records whose
``mapping_version`` differs: the version hashes the whole route file (a comment, the schedule) and its
code lists, so most new versions change no payload.  Mapping every delivered record costs a pass over
the route (about the cost of mapping it), so the figure is computed on demand (``remap``, ``remap
--dry-run``, or the Airflow DAG's ``remap`` parameter) over the whole route and recorded in the ledger
(``mapping_drift``); ``status`` shows the last figure with its time, and says when the mapping changed
after it (the figure is then out of date).  :func:`stale_mapping_counts` gives it to other views.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from lienthong import states
from lienthong.audit import archive
from lienthong.audit import events as audit_events
from lienthong.audit import hooks as audit_hooks
from lienthong.audit.chain import Event, append
from lienthong.audit.config import enabled
from lienthong.clock import utcnow
from lienthong.drift import Drift, last_drift, record_drift, stale_mapping_counts
from lienthong.errors import LienthongError, MappingError
from lienthong.jsoncanon import canonical, digest
from lienthong.masking import mask_text
from lienthong.pipeline import followups
from lienthong.store.models import OutboxRow, Run, StagedRecord
from lienthong.store.outbox import KeyHistory, key_histories
from lienthong.workers import default_actor

CHUNK = 500
#: How many changed records a dry run shows as a diff.
SHOWN = 5
#: Field names whose values are never shown in a diff (names, addresses: personal data that the
#: digit masking of ``lienthong.masking`` does not cover).
_PERSONAL_FIELD = re.compile(r"ten|name|diachi|address|email|noisinh|birthplace", re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    route: str
    since: datetime | None = None  # aware; compared with the source's own updated time
    keys: tuple[str, ...] = ()

    @property
    def whole_route(self) -> bool:
        return self.since is None and not self.keys


@dataclass
class Change:
    """A record whose payload differs from what its target acknowledged last."""

    record_key: str  # the source key
    target_key: str
    staged_id: int
    outputs: list[str]  # target.operation of each differing output
    diff: dict[str, Any] = field(default_factory=dict)  # main payload, masked: {field: [old, new]}
    new_payload: Any = None  # kept for the first few only, until their diff is made


@dataclass
class RemapResult:
    route: str
    mapping_version: str
    dry_run: bool
    checked: int = 0  # latest versions mapped
    changed: list[Change] = field(default_factory=list)  # delivered records whose payload would differ
    not_delivered: int = 0  # latest version never acknowledged (pending, dead, review): left alone
    failing: list[str] = field(default_factory=list)  # keys the current mapping quarantines: left alone
    now_filtered: int = 0  # outside the route's selection under the current mapping: left alone
    queued_rows: int = 0
    review_rows: int = 0
    left_undelivered: int = 0  # queued records not acknowledged after the delivery run
    run: Any = None  # the delivery run's summary

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "mapping_version": self.mapping_version,
            "dry_run": self.dry_run,
            "checked": self.checked,
            "would_change" if self.dry_run else "changed": len(self.changed),
            "examples": [
                {"record_key": c.record_key, "outputs": c.outputs, "diff": c.diff}
                for c in self.changed[:SHOWN]
            ],
            "not_delivered": self.not_delivered,
            "failing": len(self.failing),
            "failing_keys": self.failing[:20],
            "now_filtered": self.now_filtered,
            "queued_rows": self.queued_rows,
            "review_rows": self.review_rows,
            "left_undelivered": self.left_undelivered,
            "run": self.run.to_dict() if self.run is not None else None,
        }


def remap(
    gateway: Any,
    selection: Selection,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    deliver: bool = True,
) -> RemapResult:
    """Map the selected records' latest versions with the current mapping; queue (unless ``dry_run``)
    those whose payload differs from the last acknowledged one, then deliver the route."""
    from lienthong.pipeline.transform import TransformResult, _enqueue, outputs_of

    actor = actor or default_actor()
    route = gateway.route(selection.route)
    compiled = route.compile()
    outputs = outputs_of(route, gateway.target_specs_for(route))
    result = RemapResult(route.name, compiled.version, dry_run)
    run_id = None if dry_run else _open_run(gateway, route.name, actor)
    queued_keys: list[tuple[str, str, str]] = []  # (target, operation, target key) of each main row queued
    try:
        for chunk in _latest_versions(gateway.store, selection):
            mapped = _map_chunk(compiled, chunk, result)
            with gateway.store.session() as session:
                known = _histories(session, outputs, [m for _, m in mapped])
                acked = _acknowledged(session, outputs, [str(m.key) for _, m in mapped])
                changes = []
                for staged, record in mapped:
                    change = _compare(staged, record, outputs, known, acked, result)
                    if change is not None:
                        changes.append((staged, record, change))
                for _, record, change in changes:
                    if len(result.changed) < SHOWN:
                        change.new_payload = record.payload
                    result.changed.append(change)
                if dry_run or not changes:
                    continue
                transform_result = TransformResult()
                queued = audit_hooks.Queued(gateway.store)
                now = utcnow()
                for staged, record, _change in changes:
                    _enqueue(
                        session,
                        route.name,
                        staged,
                        compiled.version,
                        record,
                        outputs,
                        known,
                        run_id,
                        now,
                        transform_result,
                        queued,
                    )
                    queued_keys.append((outputs[0].target, outputs[0].operation, str(record.key)))
                result.queued_rows += transform_result.rows_created
                result.review_rows += transform_result.review
                _ledger(session, gateway.store, route.name, compiled.version, changes, queued, actor)  # last
        _with_examples(gateway.store, outputs, result)
    except Exception:
        if run_id is not None:
            _close_run(gateway.store, run_id, "failed", result)
        raise
    if run_id is not None:
        _close_run(gateway.store, run_id, "succeeded", result)
    if not dry_run and result.queued_rows and deliver:
        result.run = gateway.run(route.name, skip_extract=True, kind="replay", actor=actor)
    if not dry_run:
        result.left_undelivered = _not_acknowledged(gateway.store, queued_keys)
    if selection.whole_route:
        stale = len(result.changed) if dry_run else result.left_undelivered
        record_drift(gateway.store, route.name, compiled.version, stale, result.checked, actor)
    return result


# --- selecting and mapping ------------------------------------------------------------------------
def _latest_versions(store: Any, selection: Selection):  # noqa: ANN202 - a generator of chunks
    """The newest staged version of each selected key whose fate is known (mapped or unchanged)."""
    newest = (
        select(func.max(StagedRecord.id).label("id"))
        .where(StagedRecord.route == selection.route)
        .group_by(StagedRecord.record_key)
    )
    if selection.keys:
        newest = newest.where(StagedRecord.record_key.in_(list(selection.keys)))
    newest_ids = newest.subquery()
    after = 0
    while True:
        with store.session() as session:
            rows = list(
                session.execute(
                    select(StagedRecord)
                    .where(
                        StagedRecord.id.in_(select(newest_ids.c.id)),
                        StagedRecord.id > after,
                        StagedRecord.state.in_((states.MAPPED, states.UNCHANGED)),
                    )
                    .order_by(StagedRecord.id)
                    .limit(CHUNK)
                ).scalars()
            )
        if not rows:
            return
        after = rows[-1].id
        if selection.since is not None:
            rows = [row for row in rows if _updated_since(row.source_updated, selection.since)]
        if rows:
            yield rows


def _updated_since(value: str, since: datetime) -> bool:
    """The source's own updated time against ``since``; a time that cannot be read is included."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment >= since


def _map_chunk(compiled: Any, chunk: Sequence[StagedRecord], result: RemapResult) -> list[tuple[Any, Any]]:
    mapped = []
    for staged in chunk:
        result.checked += 1
        try:
            record = compiled.prepare(json.loads(staged.body))
            selected, _reason = compiled.select(record)
            if not selected:
                result.now_filtered += 1
                continue
            mapped.append((staged, compiled.map(record)))
        except MappingError:
            result.failing.append(staged.record_key)
    return mapped


def _histories(session: Any, outputs: Sequence[Any], records: Sequence[Any]) -> tuple[dict, dict]:
    """What the transform's ``_enqueue`` compares with: the newest row of each output slot and, for a
    follow-up that may be split, the parts of its newest split version."""
    keys = [str(record.key) for record in records]
    histories: dict[tuple[str, str, str], KeyHistory] = {}
    groups: dict[tuple[str, str, str], list[followups.PartRow]] = {}
    for output in outputs:
        for key, history in key_histories(session, output.target, output.operation, keys).items():
            histories[(output.target, output.operation, key)] = history
        if output.max_items is not None:
            for key, group in followups.latest_groups(session, output.target, output.operation, keys).items():
                groups[(output.target, output.operation, key)] = group
    return histories, groups


def _acknowledged(
    session: Any, outputs: Sequence[Any], keys: Sequence[str]
) -> dict[tuple[str, str, str], tuple[int, list[str], bool]]:
    """The version of each (target, operation, key) its newest acknowledged row belongs to: (row id,
    the payload hashes of its parts, whether it is whole); see ``followups.acknowledged_versions``."""
    found: dict[tuple[str, str, str], tuple[int, list[str], bool]] = {}
    for output in outputs:
        versions = followups.acknowledged_versions(session, output.target, output.operation, keys)
        for key, version in versions.items():
            found[(output.target, output.operation, key)] = version
    return found


def _compare(staged, record, outputs, known, acked, result: RemapResult) -> Change | None:  # noqa: ANN001
    """A change when the record was delivered (its main output acknowledged) and an output's payload
    under the current mapping differs from the last acknowledged version (or, for an output never
    acknowledged, from its newest version).  A follow-up is split as the transform splits it and
    compared as a whole version (every part, in order)."""
    histories, groups = known
    key = str(record.key)
    main = outputs[0]
    if (main.target, main.operation, key) not in acked:
        result.not_delivered += 1
        return None
    differing = []
    for output in outputs:
        if output.name == "main":
            parts = [record.payload]
        else:
            payload = record.followups.get(output.name) or []
            if not payload:
                continue
            parts = followups.split(payload, output.max_items)
        hashes = [digest(canonical(part)) for part in parts]
        slot = (output.target, output.operation, key)
        if slot in acked:
            _row_id, acked_hashes, whole = acked[slot]
            same = whole and acked_hashes == hashes
        else:
            history = histories.get(slot)
            same = history is not None and followups.same_version(
                hashes, history.latest_hash, history.latest_seq, groups.get(slot)
            )
        if not same:
            differing.append(f"{output.target}.{output.operation}")
    if not differing:
        return None
    return Change(staged.record_key, key, staged.id, differing)


def _with_examples(store: Any, outputs: Sequence[Any], result: RemapResult) -> None:
    """A masked diff of the main payload of the first few changes (acknowledged → current mapping)."""
    main = outputs[0]
    with store.session() as session:
        for change in result.changed[:SHOWN]:
            old = session.execute(
                select(OutboxRow.payload)
                .where(
                    OutboxRow.target == main.target,
                    OutboxRow.operation == main.operation,
                    OutboxRow.record_key == change.target_key,
                    OutboxRow.state == states.ACKNOWLEDGED,
                )
                .order_by(OutboxRow.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            change.diff = masked_diff(json.loads(old) if old else None, change.new_payload)
            change.new_payload = None


def masked_diff(old: Any, new: Any) -> dict[str, Any]:
    """``{field: [old, new]}`` for the top-level fields that differ; identity and phone numbers masked,
    names and addresses shown only as changed."""
    old = old if isinstance(old, dict) else {"": old}
    new = new if isinstance(new, dict) else {"": new}
    diff: dict[str, Any] = {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) == new.get(name):
            continue
        if _PERSONAL_FIELD.search(name):
            diff[name] = ["‹changed›", "‹changed›"]
            continue
        diff[name] = [_masked(old.get(name)), _masked(new.get(name))]
    return diff


def _masked(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return json.loads(mask_text(json.dumps(value))) if isinstance(value, int) else value
    text = mask_text(json.dumps(value, ensure_ascii=False))
    text = text if len(text) <= 200 else text[:197] + "..."
    try:
        return json.loads(text)
    except ValueError:
        return text


# --- the run, the ledger, the drift ---------------------------------------------------------------
def _open_run(gateway: Any, route: str, actor: str) -> int:
    """A run of kind ``remap`` for the rows it queues, opened the way every run is (the gateway's own
    bookkeeping of who and where), closed by :func:`_close_run` with remap's counts."""
    return gateway._start_run(route, "remap", actor)  # noqa: SLF001 - the engine's one way to open a run


def _close_run(store: Any, run_id: int, status: str, result: RemapResult) -> None:
    with store.session() as session:
        run = session.get(Run, run_id)
        run.finished_at = utcnow()
        run.status = status
        counts = {k: v for k, v in result.to_dict().items() if k not in ("examples", "run", "failing_keys")}
        run.counts = json.dumps(counts, ensure_ascii=False)


def _ledger(session: Any, store: Any, route: str, version: str, changes, queued, actor: str) -> None:  # noqa: ANN001
    """One ``remapped`` entry per record queued (the rows it queued), and the payloads archived."""
    if not enabled(store):
        return
    entries = []
    for staged, _record, change in changes:
        entries.append(
            Event(
                audit_events.REMAPPED,
                route=route,
                record_key=staged.record_key,
                mapping_version=version,
                actor=actor,
                outcome="queued",
                detail={
                    "staged_id": staged.id,
                    "outputs": change.outputs,
                    "rows": queued.rows.get(staged.id, []),
                },
            )
        )
    bodies = archive.insert_of(store, queued.bodies)
    append(session, store, entries, along=[bodies] if bodies else [])


def _not_acknowledged(store: Any, keys: Sequence[tuple[str, str, str]]) -> int:
    """Of the records remap queued, how many have a newest main row that is not acknowledged."""
    left = 0
    with store.session() as session:
        for target, operation, key in keys:
            state = session.execute(
                select(OutboxRow.state)
                .where(
                    OutboxRow.target == target, OutboxRow.operation == operation, OutboxRow.record_key == key
                )
                .order_by(OutboxRow.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            left += state != states.ACKNOWLEDGED
    return left


def parse_keys(values: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if values and not keys:
        raise LienthongError("--key needs a record key")
    return keys


__all__ = ["Drift", "RemapResult", "Selection", "last_drift", "remap", "stale_mapping_counts"]
