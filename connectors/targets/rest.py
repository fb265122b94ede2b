"""The generic REST/JSON target (kind ``rest``): request template, answer codes, per-item results.

How an answer is read (all of it from the target file):
- the HTTP status and any transport failure are classified by :mod:`connectors.answers` (one table
  for every connector): 429 / 503 → retry (``Retry-After`` honoured), 500 / 502 / 504 / lost answer
  → retry with the outcome unknown, 401 / 403 → credentials refused (the run stops, rows stay
  pending), other 4xx → permanent; a 3xx is never followed and never acknowledged;
- an answer whose code says the session expired → log in again and resend, once;
- per-item results (``response.items``) decide row by row: success, "exists" (a create of a key the
  target already has: resend that row as an update), retryable, or a permanent field error;
- without per-item results the call's code decides for every row; a permanent failure of a call of
  several rows is retried row by row, so one poisoned record cannot fail its neighbours.
"""

from __future__ import annotations

import logging
from typing import Any

import jmespath
import requests

from connectors import answers
from connectors.answers import Action
from connectors.http import make_session, origin, retry_after_seconds
from connectors.targets.auth import build_auth, connection_context
from connectors.targets.base import Delivery, ItemResult, Target
from connectors.targets.spec import OperationSpec, TargetSpec
from connectors.targets.templates import placeholders, render
from lienthong.connections import Connection
from lienthong.errors import ConfigError, CredentialsRefused, FatalError, RetriableError

log = logging.getLogger(__name__)

REST_KEYS = {"auth", "request", "response", "lookup"}
RESPONSE_KEYS = {"code", "message", "success", "retryable", "items", "item_code", "item_message"}


class _Answer:
    """One decoded answer: the call's code and message, and the per-item list if the target gives one."""

    def __init__(self, code: str | None, message: str | None, items: list[Any] | None, body: Any) -> None:
        self.code = code
        self.message = message
        self.items = items
        self.body = body


class RestTarget(Target):
    def __init__(self, spec: TargetSpec, connection: Connection) -> None:
        super().__init__(spec, connection)
        raw = spec.raw
        response = dict(raw.get("response") or {})
        unknown = sorted(set(response) - RESPONSE_KEYS)
        if unknown:
            raise ConfigError(f"targets/{spec.name}.yaml: response: unknown key(s) {', '.join(unknown)}")
        self.request_template = dict(raw.get("request") or {})
        if "path" not in self.request_template:
            raise ConfigError(f"targets/{spec.name}.yaml: request.path is required")
        self.code_path = jmespath.compile(response["code"]) if response.get("code") else None
        self.message_path = jmespath.compile(response["message"]) if response.get("message") else None
        self.items_path = jmespath.compile(response["items"]) if response.get("items") else None
        self.item_code = jmespath.compile(response.get("item_code", "error_code"))
        self.item_message = jmespath.compile(response.get("item_message", "message"))
        self.success = {str(v) for v in response.get("success", ["0"])}
        self.retryable = {str(v) for v in response.get("retryable", [])}
        self.session = make_session(
            spec.timeouts, pool_size=spec.pool_size, verify=spec.verify_tls, limits=spec.limits
        )
        self.auth = build_auth(raw.get("auth"), connection, self.session, spec.name)
        for op in spec.operations.values():
            check_request_carries_every_item(spec.name, op, op.request or self.request_template)
        self.calls = 0

    def close(self) -> None:
        self.session.close()

    # --- one HTTP call -------------------------------------------------------------------------
    def _call(
        self, op: OperationSpec, items: list[Any], mode_fields: dict[str, Any], key: str | None = None
    ) -> _Answer:
        template = op.request or self.request_template
        for attempt in range(2):  # the second pass only after a fresh login
            token = self.auth.token()
            context = {
                "conn": connection_context(self.connection),
                "token": token,
                "operation": op.name,
                "items": items,
                "item": items[0] if items else None,
                "key": key,
            }
            kwargs: dict[str, Any] = {}
            if "headers" in template:
                kwargs["headers"] = {k: str(v) for k, v in render(template["headers"], context).items()}
            body = render(template.get("json", "${items}"), context)
            if isinstance(body, dict) and mode_fields:
                body = {**body, **mode_fields}
            kwargs["json"] = body
            self.auth.apply(kwargs)
            url = self.connection.base_url + render(template["path"], context)
            place = f"{self.name}.{op.name} ({origin(url)})"
            try:
                self.calls += 1
                answer = self.session.request(template.get("method", "POST"), url, **kwargs)
            except Exception as exc:  # noqa: BLE001 - classified, or re-raised when not a transport error
                raise answers.error_for(exc, place, target=self.name) from None
            verdict = answers.of_status(answer.status_code, retry_after=retry_after_seconds(answer))
            decoded = self._decode(answer) if verdict is None or verdict.action is Action.REJECT else None
            expired = (verdict is not None and verdict.credentials and answer.status_code == 401) or (
                decoded is not None and self.auth.is_expired(answer.status_code, decoded.body)
            )
            if expired:
                if attempt == 0 and self.auth.can_renew:
                    log.info("%s: session expired, logging in again", self.name)
                    self.auth.invalidate(token)
                    continue
                detail = decoded.message if decoded is not None else None
                raise CredentialsRefused(
                    f"{place}: credentials refused (HTTP {answer.status_code})"
                    + (f": {detail}" if detail else ""),
                    target=self.name,
                    status=answer.status_code,
                )
            if verdict is not None:
                error = verdict.error(place, target=self.name)
                if decoded is not None and decoded.message:
                    error.message += f": {decoded.message}"
                raise error
            assert decoded is not None
            return decoded
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _decode(self, answer: requests.Response) -> _Answer:
        try:
            body = answer.json() if answer.content else None
        except ValueError:
            body = None
        code = _text(self.code_path.search(body)) if self.code_path and isinstance(body, dict) else None
        message = (
            _text(self.message_path.search(body)) if self.message_path and isinstance(body, dict) else None
        )
        items = self.items_path.search(body) if self.items_path and body is not None else None
        return _Answer(code, message, items if isinstance(items, list) else None, body)

    # --- a batch of rows -------------------------------------------------------------------------
    def send(self, operation: str, deliveries: list[Delivery]) -> list[ItemResult]:
        op = self.operation(operation)
        results: dict[int, ItemResult] = {}
        creates = [d for d in deliveries if not d.update]
        updates = [d for d in deliveries if d.update]
        if op.create or op.update:
            groups = [(creates, op.create), (updates, op.update)]
        else:
            groups = [(deliveries, {})]
        for group, mode in groups:
            if group:
                for result in self._send_group(op, group, mode):
                    results[result.row_id] = result
        return [results[d.row_id] for d in deliveries]

    def _send_group(
        self, op: OperationSpec, deliveries: list[Delivery], mode: dict[str, Any]
    ) -> list[ItemResult]:
        items: list[Any] = []
        owners: list[int] = []
        for delivery in deliveries:
            row_items = delivery.payload if op.items_per_row else [delivery.payload]
            items.extend(row_items)
            owners.extend([delivery.row_id] * len(row_items))
        try:
            answer = self._call(op, items, mode)
        except FatalError:
            if len(deliveries) == 1:
                raise
            # Isolate the poisoned record: a call-level refusal is retried one row at a time.
            return [r for d in deliveries for r in self._send_single(op, d, mode)]
        verdicts = self._item_verdicts(op, answer, len(items))
        by_row: dict[int, list[tuple[str, str | None]]] = {}
        for owner, verdict in zip(owners, verdicts, strict=True):
            by_row.setdefault(owner, []).append(verdict)
        kept: dict[int, dict[str, Any]] = {}
        if op.keep and answer.items is not None and len(answer.items) == len(items):
            for owner, item in zip(owners, answer.items, strict=True):
                if isinstance(item, dict) and owner not in kept:
                    kept[owner] = {name: item.get(name) for name in op.keep}
        results: list[ItemResult] = []
        resend_as_update: list[Delivery] = []
        for delivery in deliveries:
            outcomes = by_row.get(delivery.row_id, [])
            kinds = {kind for kind, _ in outcomes}
            messages = "; ".join(m for kind, m in outcomes if kind not in ("ok", "exists") and m)
            summary = {"code": answer.code, "message": answer.message, **kept.get(delivery.row_id, {})}
            if kinds <= {"ok"}:
                results.append(ItemResult(delivery.row_id, ok=True, response=summary))
            elif kinds <= {"ok", "exists"} and op.update and mode is op.create:
                resend_as_update.append(delivery)
            elif kinds <= {"ok", "exists"}:
                results.append(ItemResult(delivery.row_id, ok=True, response={**summary, "exists": True}))
            elif "fatal" in kinds:
                results.append(
                    ItemResult(
                        delivery.row_id, ok=False, message=messages or answer.message, response=summary
                    )
                )
            else:
                results.append(
                    ItemResult(delivery.row_id, ok=False, retryable=True, message=messages, response=summary)
                )
        if resend_as_update:
            log.info(
                "%s.%s: %d record(s) already existed, resending as updates",
                self.name,
                op.name,
                len(resend_as_update),
            )
            results.extend(self._send_group(op, resend_as_update, op.update))
        return results

    def _send_single(self, op: OperationSpec, delivery: Delivery, mode: dict[str, Any]) -> list[ItemResult]:
        try:
            return self._send_group(op, [delivery], mode)
        except FatalError as exc:
            return [ItemResult(delivery.row_id, ok=False, message=str(exc))]
        except RetriableError as exc:
            return [
                ItemResult(
                    delivery.row_id, ok=False, retryable=True, message=str(exc), retry_after=exc.retry_after
                )
            ]

    def _item_verdicts(self, op: OperationSpec, answer: _Answer, count: int) -> list[tuple[str, str | None]]:
        """("ok" | "exists" | "retry" | "fatal", message) per item, in request order."""
        if answer.items is not None and len(answer.items) == count:
            verdicts = []
            for item in answer.items:
                code = _text(self.item_code.search(item)) if isinstance(item, dict) else None
                message = _text(self.item_message.search(item)) if isinstance(item, dict) else None
                verdicts.append((self._classify_item(op, code), message))
            return verdicts
        if self.items_path is not None and self.code_path is None:
            # The target file promises a result per record and the answer has none: nothing is known.
            raise RetriableError(
                f"{self.name}.{op.name}: the answer has no per-record results "
                f"({'none' if answer.items is None else len(answer.items)} for {count} records)",
                target=self.name,
            )
        kind = self._classify(op, answer.code)
        if kind in ("ok", "exists") and answer.items is not None and self.items_path is not None:
            # A list of results that does not match the records sent cannot say which were taken:
            # acknowledging them all would certify rows the answer does not cover.  Ask again.
            raise RetriableError(
                f"{self.name}.{op.name}: the answer lists {len(answer.items)} results for {count} records "
                "sent; none is acknowledged",
                target=self.name,
                outcome_unknown=True,
            )
        if kind == "retry":
            raise RetriableError(
                f"{self.name}.{op.name}: code {answer.code}: {answer.message}", target=self.name
            )
        if kind == "fatal":
            raise FatalError(f"{self.name}.{op.name}: code {answer.code}: {answer.message}", target=self.name)
        return [(kind, answer.message)] * count

    def _classify(self, op: OperationSpec, code: str | None) -> str:
        """The verdict of a call-level code (no code configured: the HTTP status already said ok)."""
        if self.code_path is None:
            return "ok"
        return self._classify_item(op, code)

    def _classify_item(self, op: OperationSpec, code: str | None) -> str:
        if code in self.success:
            return "ok"
        if code in op.exists:
            return "exists"
        if code in self.retryable:
            return "retry"
        return "fatal"

    # --- asking the target -----------------------------------------------------------------------
    def can_lookup(self, operation: str) -> bool:
        config = self.spec.raw.get("lookup") or {}
        return operation in (config.get("operations") or [])

    def lookup(self, record_key: str) -> dict[str, Any] | None:
        config = self.spec.raw.get("lookup")
        if not config:
            return None
        op = OperationSpec(
            name=config["operation"], request={**self.request_template, "json": config.get("json", {})}
        )
        answer = self._call(op, [], {}, key=record_key)
        if answer.code in {str(c) for c in config.get("found", ["0"])}:
            result_path = config.get("result", "result")
            found = jmespath.search(result_path, answer.body) if isinstance(answer.body, dict) else None
            return found if isinstance(found, dict) else {"found": True}
        if answer.code in {str(c) for c in config.get("not_found", [])}:
            return None
        raise RetriableError(f"{self.name}: lookup of a record answered code {answer.code}", target=self.name)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def check_request_carries_every_item(target: str, op: OperationSpec, template: dict[str, Any]) -> None:
    """Refuse, at load, a request template that cannot carry every record of a call: a row is
    acknowledged because the call carrying it was, so a call must carry all of its rows.

    ``${items}`` carries the batch; ``${item}`` carries only the first record, so it needs a batch of
    one row holding one item; ``${key}`` is filled only for lookups (a request would send "None")."""
    where = f"targets/{target}.yaml: operations.{op.name}"
    used = {
        name.split(".", 1)[0]
        for name in placeholders({k: template.get(k) for k in ("path", "json", "headers")})
    }
    if "json" not in template:
        used.add("items")  # the default body is the batch itself
    if "key" in used:
        raise ConfigError(
            f"{where}: the request uses ${{key}}, which only lookups fill (a request would send 'None'); "
            "name the record's field instead, e.g. ${item.MaHoSo} with batch_size: 1"
        )
    if "items" in used:
        return
    if "item" not in used:
        raise ConfigError(
            f"{where}: the request carries no record: put ${{items}} (the batch) or ${{item}} (one record "
            "per call, with batch_size: 1) in its json, path or headers"
        )
    if op.batch_size != 1 or op.items_per_row:
        many = "rows of several items (items_per_row)" if op.items_per_row else f"batch_size {op.batch_size}"
        raise ConfigError(
            f"{where}: the request carries one record per call (${{item}}) but the operation sends "
            f"{many}: the other records would be acknowledged without being sent; set batch_size: 1 "
            "(and no items_per_row), or send the batch with ${items}"
        )
