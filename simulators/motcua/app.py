"""The ``motcua`` simulator: a provincial one-stop system (modelled on VNPT-iGate) over HTTP.

Public endpoints (bearer token required on ``/pa/``):

- ``POST /auth/realms/digo/protocol/openid-connect/token`` (client credentials, Keycloak style);
- ``GET /pa/dossier/search`` (Spring page, ``updatedDate,asc`` then ``id``, inclusive date bounds);
- ``GET /pa/dossier/{id}``;
- ``GET /pa/procedure/search`` and ``GET /pa/procedure/{id}``.

Control additions under ``/_sim/`` (see :mod:`simulators.motcua.control`): changing, appending,
deleting and withdrawing dossiers, editing procedures, finding messy dossiers.  The same operations
are Python methods here, for in-process tests.
"""

from __future__ import annotations

import copy
import hmac
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from simulators.faults import FaultConfig
from simulators.motcua import control, poison
from simulators.motcua.auth import TokenIssuer, basic, bearer
from simulators.motcua.data import STATUS_NAMES, DossierGenerator
from simulators.motcua.procedures import ProcedureStore
from simulators.motcua.settings import DATA_KEYS, MotcuaSettings, SettingsError
from simulators.motcua.store import Overlay, SearchSlice
from simulators.motcua.timeline import format_ms, parse_date
from simulators.server import BadRequest, SimApp, SimRequest, SimResponse

TOKEN_PATH = "/auth/realms/digo/protocol/openid-connect/token"
_SORTS = {"updatedDate", "updatedDate,asc", "id", "id,asc"}
_UNAUTHORISED_HEADERS = {"WWW-Authenticate": 'Bearer realm="digo", error="invalid_token"'}


class MotcuaApp(SimApp):
    """The one-stop simulator; keyword arguments are :class:`MotcuaSettings` fields."""

    name = "motcua"

    def __init__(self, faults: FaultConfig | None = None, **settings: Any) -> None:
        super().__init__(faults)
        try:
            self._settings = MotcuaSettings().updated(settings)
        except SettingsError as exc:
            raise ValueError(str(exc)) from None
        self.tokens = TokenIssuer(self._settings.token_lifetime)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._build_data()
        self.route("POST", TOKEN_PATH, self._token)
        self.route("GET", "/pa/dossier/search", self._dossier_search)
        self.route("GET", "/pa/dossier/{dossier_id}", self._dossier_detail)
        self.route("GET", "/pa/procedure/search", self._procedure_search)
        self.route("GET", "/pa/procedure/{procedure_id}", self._procedure_detail)

    def _build_data(self) -> None:
        s = self._settings
        self.generator = DossierGenerator(s.seed, s.total_dossiers, s.mess_rate, s.mess_kinds, s.birth_share)
        self.overlay = Overlay(self.generator)
        self.procedures = ProcedureStore(self.overlay.tick)
        self._churn_rng = random.Random(s.seed ^ 0xC4_0C4)
        self._delete_served = s.mess_rate > 0 and "deleted" in s.mess_kinds

    # --- settings and control hooks ------------------------------------------------------------
    @property
    def config(self) -> MotcuaSettings:
        return self._settings

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(settings, dict):
            raise BadRequest("a JSON object of settings is expected")
        settings = dict(settings)
        expire = settings.pop("expire_tokens_now", False)
        try:
            updated = self._settings.updated(settings)
        except SettingsError as exc:
            raise BadRequest(str(exc)) from None
        with self._lock:
            data_changed = any(getattr(updated, k) != getattr(self._settings, k) for k in DATA_KEYS)
            self._settings = updated
            self.tokens.lifetime = updated.token_lifetime
            if data_changed:
                self._build_data()
        if expire:
            self.tokens.expire_all()
        return self.settings()

    def settings(self) -> dict[str, Any]:
        return self._settings.public()

    def received(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        return {
            "counts": counts,
            "overlay": self.overlay.summary(),
            "procedures_changed": list(self.procedures.changed),
        }

    def reset_state(self) -> None:
        """Forget counts and every change: the data is back to what the settings generate."""
        with self._lock:
            self.counts.clear()
            self._build_data()

    def control(self, request: SimRequest) -> SimResponse:
        answer = control.handle(self, request)
        return answer if answer is not None else super().control(request)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    # --- Python API (in-process tests; the same operations exist under /_sim/) -----------------
    def dossier_id(self, index: int) -> str:
        return self.generator.dossier_id(index)

    def index_of(self, dossier_id: str) -> int | None:
        return self.overlay.index_of(dossier_id)

    def mess_kind(self, index: int) -> str | None:
        """The mess kind of dossier ``index`` (None when clean); pure, no side effect."""
        return self.generator.mess_kind(index)

    def find_mess(self, kind: str, limit: int = 1, start: int = 0) -> list[str]:
        """Ids of generated dossiers with mess ``kind``, scanning from index ``start``."""
        out: list[str] = []
        if kind not in self.generator.mess.kinds or self.generator.mess.rate == 0:
            return out
        for index in range(start, self.generator.count):
            if self.generator.mess_kind(index) == kind:
                out.append(self.generator.dossier_id(index))
                if len(out) >= limit:
                    break
        return out

    def get_dossier(self, dossier_id: str) -> dict[str, Any] | None:
        found = self.overlay.get(dossier_id)
        return json.loads(found) if isinstance(found, bytes) else copy.deepcopy(found)

    def update_dossier(self, dossier_id: str, **changes: Any) -> dict[str, Any]:
        """Merge-patch a dossier; it gets the next clock time as ``updatedDate``.  KeyError if unknown."""
        if "updatedDate" in changes or "id" in changes:
            raise ValueError("id and updatedDate are set by the simulator, not by a patch")
        record = self.overlay.update(dossier_id, changes)
        if record is None:
            raise KeyError(dossier_id)
        return copy.deepcopy(record)  # the overlay's own copy must not change under it

    def withdraw_dossier(self, dossier_id: str) -> dict[str, Any]:
        """The citizen withdraws the dossier: status 6, no result."""
        return self.update_dossier(
            dossier_id, dossierStatus={"id": 6, "name": STATUS_NAMES[6]}, completedDate=None, returnedDate=None
        )

    def poison_dossier(self, dossier_id: str, kind: str, **options: Any) -> dict[str, Any]:
        """Serve the dossier as hostile data of ``kind`` from now on (``simulators.motcua.poison``);
        a merge patch ``{"_poison": null}`` serves it clean again.  KeyError if unknown."""
        return self.update_dossier(dossier_id, _poison=poison.poison_spec(kind, options))

    def restore_dossier(self, dossier_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """Serve a former version of the dossier again, with its own ``updatedDate`` (a source restored
        from a backup).  KeyError if unknown; ValueError if ``record`` is not a version of it."""
        if not isinstance(record, dict) or record.get("id") != dossier_id or "updatedDate" not in record:
            raise ValueError("restore needs a whole dossier with the same id and its updatedDate")
        if self.overlay.index_of(dossier_id) is None:
            raise KeyError(dossier_id)
        restored = self.overlay.restore(dossier_id, record)
        if restored is None:
            raise KeyError(dossier_id)
        return restored

    def set_steps(self, dossier_id: str, count: int) -> dict[str, Any]:
        """Give the dossier ``count`` finished processing steps (0 to 1,000).  KeyError if unknown."""
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
            raise ValueError("count must be an integer from 0 to 1000")
        current = self.get_dossier(dossier_id)
        if current is None:
            raise KeyError(dossier_id)
        return self.update_dossier(dossier_id, tasks=poison.with_steps(current, count))

    def append_dossiers(self, count: int) -> list[str]:
        """``count`` new dossiers (new or just received), each at the next clock time; their ids."""
        if count < 0 or count > 100_000:
            raise ValueError("append between 0 and 100,000 dossiers at a time")
        return [record["id"] for record in self.overlay.append(count)]

    def delete_dossier(self, dossier_id: str) -> bool:
        """Delete a dossier (gone from searches, 404 on detail); False if unknown or already deleted."""
        return self.overlay.delete(dossier_id)

    def update_procedure(self, procedure_id: str, **changes: Any) -> dict[str, Any]:
        if "updatedDate" in changes or "id" in changes:
            raise ValueError("id and updatedDate are set by the simulator, not by a patch")
        record = self.procedures.update(procedure_id, changes)
        if record is None:
            raise KeyError(procedure_id)
        return record

    def search_dossiers(
        self, updated_from: str | None = None, updated_to: str | None = None, page: int = 0, size: int = 50
    ) -> dict[str, Any]:
        """What ``GET /pa/dossier/search`` answers, as a dict (same side effects: counts, mess, churn)."""
        from_ms = parse_date(updated_from) if updated_from else None
        to_ms = parse_date(updated_to) if updated_to else None
        found = self.overlay.search(from_ms, to_ms, page * size, size)
        content = [self.generator.generate(i) for i in found.generated] + copy.deepcopy(found.overlay)
        self._after_search(found, content=content)
        return _page(content, found.total, page, size)

    def iter_dossier_keys(self, updated_from: str | None = None, updated_to: str | None = None) -> Iterator[tuple[str, str]]:
        """``(updatedDate, id)`` of every dossier in the range, in search order, without generating bodies."""
        from_ms = parse_date(updated_from) if updated_from else None
        to_ms = parse_date(updated_to) if updated_to else None
        offset, step = 0, 10_000
        while True:
            found = self.overlay.search(from_ms, to_ms, offset, step)
            for index in found.generated:
                yield format_ms(self.generator.timeline.updated_ms(index)), self.generator.dossier_id(index)
            for record in found.overlay:
                yield record["updatedDate"], record["id"]
            offset += step
            if offset >= found.total:
                return

    # --- HTTP handlers -------------------------------------------------------------------------
    def _token(self, request: SimRequest) -> SimResponse:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            self._count("token_rejections")
            return SimResponse.json(
                {"error": "unsupported_grant_type", "error_description": "only client_credentials is supported"}, 400
            )
        client_id, secret = form.get("client_id"), form.get("client_secret")
        from_header = basic(request.header("authorization"))
        if from_header and not client_id:
            client_id, secret = from_header
        s = self._settings
        if not (
            client_id is not None and secret is not None
            and hmac.compare_digest(client_id.encode(), s.client_id.encode())
            and hmac.compare_digest(secret.encode(), s.client_secret.encode())
        ):
            self._count("token_rejections")
            return SimResponse.json(
                {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}, 401
            )
        self._count("token_grants")
        return SimResponse.json(self.tokens.issue(client_id))

    def _unauthorised(self, request: SimRequest) -> SimResponse | None:
        if self.tokens.valid(bearer(request.header("authorization"))):
            return None
        self._count("auth_failures")
        return SimResponse.json(
            {"error": "invalid_token", "error_description": "Token is not active"}, 401, _UNAUTHORISED_HEADERS
        )

    def _paging(self, request: SimRequest) -> tuple[int, int, int | None, int | None]:
        page = _int_arg(request, "page", 0)
        size = _int_arg(request, "size", 20)
        if page < 0:
            raise BadRequest("page must be 0 or more")
        if size < 1:
            raise BadRequest("size must be at least 1")
        if size > self._settings.max_page_size:
            raise BadRequest(f"size {size} exceeds the maximum page size {self._settings.max_page_size}")
        for sort in request.query.get("sort", []):
            if sort not in _SORTS:
                raise BadRequest(f"unsupported sort {sort!r}: only sort=updatedDate,asc (ties ordered by id)")
        bounds = []
        for name in ("updated-from", "updated-to"):
            text = request.arg(name)
            try:
                bounds.append(parse_date(text) if text else None)
            except ValueError as exc:
                raise BadRequest(f"{name}: {exc}") from None
        return page, size, bounds[0], bounds[1]

    def _dossier_search(self, request: SimRequest) -> SimResponse:
        denied = self._unauthorised(request)
        if denied:
            return denied
        page, size, from_ms, to_ms = self._paging(request)
        overlay = self.overlay  # one consistent pair even if the settings change meanwhile
        found = overlay.search(from_ms, to_ms, page * size, size)
        render = overlay.generator.render
        parts = [render(i) for i in found.generated]
        parts += [poison.render(r) for r in found.overlay]  # a poisoned dossier spoils only itself
        self._after_search(found)
        head = _page([], found.total, page, size, len(parts))
        del head["content"]
        tail = json.dumps(head, separators=(",", ":")).encode()
        body = b'{"content":[' + b",".join(parts) + b"]," + tail[1:]
        return SimResponse(200, body)

    def _after_search(self, found: SearchSlice, content: list[dict[str, Any]] | None = None) -> None:
        """Counts, then the mess that happens *after* serving: deleted-after-served and churn."""
        served = len(found.generated) + len(found.overlay)
        with self._lock:
            self.counts["searches"] += 1
            self.counts["dossiers_served"] += served
        if self._delete_served:
            for index in found.generated:
                if self.generator.mess_kind(index) == "deleted" and self.overlay.delete(self.dossier_id(index)):
                    self._count("mess_deleted")
        churn = self._settings.churn_rate
        if churn and served:
            with self._lock:
                hit = self._churn_rng.random() < churn
                pick = self._churn_rng.randrange(served)
            if hit:
                ids = [self.dossier_id(i) for i in found.generated] + [r["id"] for r in found.overlay]
                if self.overlay.update(ids[pick], {}) is not None:
                    self._count("churned")

    def _dossier_detail(self, request: SimRequest) -> SimResponse:
        denied = self._unauthorised(request)
        if denied:
            return denied
        found = self.overlay.get(request.params["dossier_id"])
        if found is None:
            self._count("detail_not_found")
            return SimResponse.json({"error": "not_found", "message": "Không tìm thấy hồ sơ"}, 404)
        self._count("detail_reads")
        if isinstance(found, bytes):
            return SimResponse(200, found)
        return SimResponse(200, poison.render(found))

    def _procedure_search(self, request: SimRequest) -> SimResponse:
        denied = self._unauthorised(request)
        if denied:
            return denied
        page, size, from_ms, to_ms = self._paging(request)
        total, content = self.procedures.search(from_ms, to_ms, page * size, size)
        with self._lock:
            self.counts["procedure_searches"] += 1
            self.counts["procedures_served"] += len(content)
        return SimResponse.json(_page(content, total, page, size))

    def _procedure_detail(self, request: SimRequest) -> SimResponse:
        denied = self._unauthorised(request)
        if denied:
            return denied
        record = self.procedures.get(request.params["procedure_id"])
        if record is None:
            return SimResponse.json({"error": "not_found", "message": "Không tìm thấy thủ tục"}, 404)
        return SimResponse.json(record)


def _int_arg(request: SimRequest, name: str, default: int) -> int:
    text = request.arg(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {text!r}") from None


def _page(content: list[Any], total: int, page: int, size: int, count: int | None = None) -> dict[str, Any]:
    """A Spring Data page."""
    count = len(content) if count is None else count
    total_pages = (total + size - 1) // size
    return {
        "content": content,
        "totalElements": total,
        "totalPages": total_pages,
        "number": page,
        "size": size,
        "numberOfElements": count,
        "first": page == 0,
        "last": page >= total_pages - 1,
        "empty": count == 0,
    }
