"""A route compiled for one run: the pure ``record -> payload`` step of the pipeline (DESIGN.md "Map").

The engine calls, per source record: ``prepare`` (NFC, parse the JSON-string fields), ``record_key`` /
``source_id`` / ``updated`` (business key, keyset tie-break, watermark), ``select`` (is this record the
route's business, and if not, why) and ``map`` (the payload and its follow-up payloads, or a
:class:`MappingError` listing every field error of the record). Nothing here does I/O after
construction; the clock is read only by ``age_under_years`` conditions and is injectable.

``version`` is ``sha256:`` over the route file's bytes and every file it referenced (code lists,
schemas), in sorted reference order: it is recorded with each delivery, so an auditor can tell which
mapping produced a payload, and a changed code list is a new mapping version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lienthong.errors import FieldError, MappingError
from lienthong.mapping.conditions import Condition, compile_condition
from lienthong.mapping.core import VIETNAM, CompileContext, ErrorTuple, Fail, is_missing, prefixed
from lienthong.mapping.fields import compile_fields
from lienthong.mapping.paths import FOLLOWUP, compile_path
from lienthong.mapping.resources import Resources
from lienthong.mapping.schema import Validator, compile_schema
from lienthong.mapping.text import normalise_record
from lienthong.mapping.transforms import code_key

if TYPE_CHECKING:
    from lienthong.mapping.route import Route, TargetSpec


@dataclass(frozen=True)
class MappedRecord:
    """What one source record becomes: the main payload (``key`` is the key the target honours) and,
    per followup name, its payloads in source order (sent after the main one)."""

    key: str
    payload: dict[str, Any]
    followups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(VIETNAM)


def _schema(ctx: CompileContext, target: TargetSpec, where: str) -> Validator | None:
    if target.schema is None:
        return None
    ref, document = ctx.resources.json_document(target.schema, f"{where}.schema")
    return compile_schema(document, ref)


def _as_key(value: Any) -> str | None:
    if is_missing(value) or isinstance(value, dict | list):
        return None
    return code_key(value)


def _drop_shadowed(schema_errors: list[ErrorTuple], errors: list[ErrorTuple]) -> list[ErrorTuple]:
    """Schema errors about a field whose own rules already failed (or about an object some of whose
    fields failed) would say the same thing twice."""
    if not errors:
        return schema_errors
    failed = {path for path, _, _ in errors}
    return [error for error in schema_errors if not any(_related(error[0], path) for path in failed)]


def _related(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same payload path or one lies inside the other."""
    if len(a) > len(b):
        a, b = b, a
    return b == a or (b.startswith(a) and b[len(a)] in ".[") or not a


#: The width of the outbox's ``record_key`` column (``lienthong.store.models``; a test keeps them equal).
KEY_MAX = 200
#: Characters no target can carry: C0 controls but tab, line feed and carriage return (NUL included),
#: lone surrogates, and the two noncharacters XML 1.0 refuses.
_UNTRANSMITTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _untransmittable(payload: Any, key: str | None) -> list[ErrorTuple]:
    """Payload text a target cannot carry (a NUL in a summary breaks the SOAP envelope and is refused
    by PostgreSQL text), and a key wider than the outbox keeps.  Reasons name the field and the code
    point, never the text."""
    errors: list[ErrorTuple] = []
    if key is not None and len(key) > KEY_MAX:
        errors.append(
            ("(key)", "key", f"the target key is {len(key):,} characters long, more than {KEY_MAX}")
        )
    if not _has_untransmittable(payload):
        return errors
    stack: list[tuple[Any, str]] = [(payload, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            found = _UNTRANSMITTABLE.search(value)
            if found:
                code = ord(found.group())
                what = (
                    "a NUL character"
                    if code == 0
                    else "an invalid code point"
                    if 0xD800 <= code <= 0xDFFF
                    else "a noncharacter"
                    if code >= 0xFFFE
                    else "a control character"
                )
                errors.append(
                    (path, "text", f"contains {what} (U+{code:04X}) at character {found.start() + 1}")
                )
        elif isinstance(value, dict):
            stack.extend((item, f"{path}.{name}" if path else str(name)) for name, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(value))
    return errors


def _has_untransmittable(payload: Any) -> bool:
    """The quick check (no paths built): almost every payload is clean."""
    search = _UNTRANSMITTABLE.search
    stack = [payload]
    while stack:
        value = stack.pop()
        items = value.values() if type(value) is dict else value
        for item in items:
            kind = type(item)
            if kind is str:
                if not item.isprintable() and search(item):  # isprintable: False for every bad one
                    return True
            elif kind is dict or kind is list:
                stack.append(item)
    return False


class CompiledFollowup:
    """A followup (e.g. progress records): one payload per element of ``for_each``, each mapped against
    ``{"item": element, "root": record}`` and keyed by its own ``target.key``."""

    def __init__(self, spec: Any, where: str, ctx: CompileContext) -> None:
        self.name: str = spec.name
        self.target: TargetSpec = spec.target
        self._each = compile_path(spec.for_each, f"{where}.for_each")
        self._build = compile_fields(spec.fields, f"{where}.fields", ctx, scope=FOLLOWUP)
        self._key = compile_path(spec.target.key, f"{where}.target.key")
        self._schema = _schema(ctx, spec.target, f"{where}.target")

    def key(self, payload: dict[str, Any]) -> str | None:
        return _as_key(self._key(payload))

    def map(self, record: dict[str, Any]) -> tuple[list[dict[str, Any]], list[ErrorTuple]]:
        try:
            items = self._each(record)
        except Fail as fail:
            return [], fail.errors
        if items is None:
            return [], []
        if not isinstance(items, list):
            return [], [("", "for_each", "expected a list")]
        payloads: list[dict[str, Any]] = []
        errors: list[ErrorTuple] = []
        for index, item in enumerate(items):
            try:
                payload = self._build(item, record)
            except Fail as fail:
                errors += prefixed(f"[{index}]", fail.errors)
                continue
            if payload is None:
                continue
            if self.key(payload) is None:
                errors.append((f"[{index}]", "key", f"the target key ({self.target.key}) is missing"))
            if self._schema is not None:
                problems = self._schema(payload)
                if problems:
                    errors += prefixed(f"[{index}]", problems)
            payloads.append(payload)
        return payloads, errors


class CompiledRoute:
    """The runnable form of a :class:`Route` (see the module docstring for the calling sequence)."""

    def __init__(self, route: Route, *, now: Callable[[], datetime] | None = None) -> None:
        resources = Resources(route.mappings_dir)
        ctx = CompileContext(resources=resources, now=now or _now)
        self.route = route
        self.name = route.name
        self.target = route.target
        source = route.source
        self._key = compile_path(source.key, "source.key")
        self._id = compile_path(source.id, "source.id")
        self._updated = compile_path(source.updated, "source.updated")
        self._agency = compile_path(source.agency, "source.agency") if source.agency else None
        self._parse_json = source.parse_json
        self._select: tuple[Condition, ...] = tuple(
            compile_condition(spec, f"select[{i}]", ctx, missing="quarantine")
            for i, spec in enumerate(route.select)
        )
        self._fields = compile_fields(route.fields, "fields", ctx)
        self._target_key = compile_path(route.target.key, "target.key")
        self._schema = _schema(ctx, route.target, "target")
        self.followups: tuple[CompiledFollowup, ...] = tuple(
            CompiledFollowup(spec, f"followups[{i}]", ctx) for i, spec in enumerate(route.followups)
        )
        self.referenced_files: tuple[str, ...] = resources.referenced
        self.version: str = resources.version(route.source_bytes)

    # --- identity of a record --------------------------------------------------------------------------
    def record_key(self, record: dict[str, Any]) -> str:
        """The business key (``source.key``): the dossier code, ``MaTTHC|MaCoQuan`` for a procedure."""
        return self._required(self._key, record, "source.key", "the record key")

    def source_id(self, record: dict[str, Any]) -> str:
        """The source's own id (``source.id``), the tie-break of keyset paging."""
        return self._required(self._id, record, "source.id", "the source id")

    def updated(self, record: dict[str, Any]) -> str:
        """The updated timestamp (``source.updated``) exactly as the source wrote it (the watermark is
        sent back to the same source, in its own format)."""
        return self._required(self._updated, record, "source.updated", "the updated timestamp")

    def agency(self, record: dict[str, Any]) -> str | None:
        """The agency code (``source.agency``), kept beside the staged record so that reconciliation
        counts per agency without opening (or decrypting) record bodies; ``None`` when not configured
        or absent."""
        if self._agency is None:
            return None
        try:
            return _as_key(self._agency(record))
        except Fail:
            return None

    def target_key(self, payload: dict[str, Any]) -> str | None:
        """The key the target honours (``target.key``, a JMESPath over the payload)."""
        try:
            return _as_key(self._target_key(payload))
        except Fail:
            return None

    def _required(self, get: Callable[[Any], Any], record: Any, where: str, what: str) -> str:
        try:
            value = _as_key(get(record))
        except Fail:
            value = None
        if value is None:
            raise MappingError(
                self.name, self._describe(record), [FieldError(where, "required", f"{what} is missing")]
            )
        return value

    def _describe(self, record: Any) -> str | None:
        """The best name for a record in an error: its key, else its source id, else nothing."""
        for get in (self._key, self._id):
            try:
                value = _as_key(get(record))
            except Fail:
                continue
            if value is not None:
                return value
        return None

    # --- the pipeline steps ----------------------------------------------------------------------------
    def prepare(self, raw: dict[str, Any]) -> dict[str, Any]:
        """NFC text and parsed ``parse_json`` fields; ``raw`` is never modified (it may be returned as is
        when there was nothing to do). Unparsable JSON is a ``MappingError`` with rule ``json``."""
        if not isinstance(raw, dict):
            raise MappingError(self.name, None, [FieldError("", "record", "expected a JSON object")])
        record = raw
        for name in self._parse_json:
            value = record.get(name)
            if isinstance(value, str):
                if record is raw:
                    record = dict(raw)
                try:
                    record[name] = json.loads(value) if value.strip() else None
                except ValueError:
                    raise MappingError(
                        self.name, self._describe(raw), [FieldError(name, "json", "not valid JSON")]
                    ) from None
        normalised: dict[str, Any] = normalise_record(record)
        return normalised

    def select(self, record: dict[str, Any]) -> tuple[bool, str | None]:
        """``(True, None)`` or ``(False, reason)``, the reason naming the first condition that failed.
        A condition that cannot be decided (the value it needs is missing, malformed, or its transform
        fails on it: an unreadable birth date) is a ``MappingError`` whose field is the **source
        path**: the record is broken or incomplete, not outside the route (issue #17)."""
        for index, condition in enumerate(self._select):
            try:
                held = condition(record, record)
            except Fail as fail:
                raise MappingError(
                    self.name, self._describe(record), [FieldError(*error) for error in fail.errors]
                ) from None
            if not held:
                return False, f"select[{index}] not met: {condition.description}"
        return True, None

    def map(self, record: dict[str, Any]) -> MappedRecord:
        """The payloads of ``record`` (a prepared record), or a ``MappingError`` with all its field errors."""
        errors: list[ErrorTuple] = []
        try:
            payload = self._fields(record, record) or {}
        except Fail as fail:
            errors = list(fail.errors)
            payload = fail.partial or {}
        followups: dict[str, list[dict[str, Any]]] = {}
        for followup in self.followups:
            followups[followup.name], followup_errors = followup.map(record)
            errors += prefixed(f"followups.{followup.name}", followup_errors)
        key = self.target_key(payload)
        if key is None and not errors:
            errors.append((self.target.key, "key", "the target key is missing"))
        errors += _untransmittable(payload, key)
        for name, items in followups.items():
            for index, item in enumerate(items):
                errors += prefixed(f"followups.{name}[{index}]", _untransmittable(item, None))
        if self._schema is not None:
            errors += _drop_shadowed(self._schema(payload), errors)
        if errors:
            raise MappingError(self.name, self._describe(record), [FieldError(*error) for error in errors])
        assert key is not None
        return MappedRecord(key=key, payload=payload, followups=followups)

    def __repr__(self) -> str:
        return f"CompiledRoute({self.name!r}, version={self.version[:19]}...)"
