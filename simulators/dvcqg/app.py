"""The National Public Service Portal simulator (``dvcqg``): session login and one service endpoint.

Shape of the real thing (public clients): ``POST /api/login`` hands out a session; every operation is
``POST /api/service`` with ``"service": OP`` in the body, and *every* answer is HTTP 200 with the
outcome in ``error_code`` ("0" success, "-1" invalid field, "-2" not found, "-3" exists, "-401"
session expired, "-500" internal error).  HTTP-level failures only come from injected faults.

Batch operations answer **per item** (our design, see ``docs/simulators/dvcqg.md``): each item is
validated and applied on its own, ``result`` lists one outcome per item in request order, and the
top-level code is the first failing item's code.  Valid items of a mixed batch are stored, so a client
must read ``result`` to know which items to fix; resending the whole batch is harmless (repeats).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from simulators.dvcqg import codes, validation
from simulators.dvcqg.sessions import SessionStore
from simulators.dvcqg.settings import DEFAULTS, SettingError, checked, visible
from simulators.dvcqg.state import Outcome, Store
from simulators.faults import FaultConfig
from simulators.server import BadRequest, SimApp, SimRequest, SimResponse

log = logging.getLogger(__name__)

Operation = Callable[[dict[str, Any]], SimResponse]


def answer(code: str, message: str | None = None, result: Any = None) -> SimResponse:
    """A service answer: always HTTP 200, the outcome is in the body."""
    return SimResponse.json(
        {"error_code": code, "message": message or codes.MESSAGES[code], "result": result}
    )


def parse_flag(value: Any) -> bool | None:
    """``isUpdating`` arrives as the strings "True"/"False" (C# clients); JSON booleans are accepted."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


class DvcqgApp(SimApp):
    """National portal simulator.  Keyword arguments are the settings of :mod:`simulators.dvcqg.settings`."""

    name = "dvcqg"

    def __init__(
        self, faults: FaultConfig | None = None, clock: Callable[[], float] = time.monotonic, **settings: Any
    ) -> None:
        super().__init__(faults)
        self.store = Store()
        self._settings: dict[str, Any] = dict(DEFAULTS)
        self.sessions = SessionStore(DEFAULTS["session_lifetime"], clock)
        self._random_lock = threading.Lock()
        self._random = random.Random(DEFAULTS["seed"])
        try:
            self.configure(settings)
        except BadRequest as exc:
            raise ValueError(str(exc)) from exc
        self._operations: dict[str, Operation] = {
            "DongBoHoSoMC": self._sync_dossiers,
            "CapNhatTienDoHoSoMC": self._sync_progress,
            "TraCuuHoSo": self._find_dossier,
            "LayDanhMucCoQuan": self._list_agencies,
            "DongBoDVCTT": self._sync_catalogue,
        }
        self.route("POST", "/api/login", self._login)
        self.route("POST", "/api/service", self._service)

    # --- settings and control API ------------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(settings, dict):
            raise BadRequest("settings must be a JSON object")
        settings = dict(settings)
        expire_now = settings.pop("expire_sessions_now", False)
        if not isinstance(expire_now, bool):
            raise BadRequest("expire_sessions_now must be true or false")
        try:
            values = checked(settings)
        except SettingError as exc:
            raise BadRequest(str(exc)) from exc
        self._settings.update(values)
        if "session_lifetime" in values:
            self.sessions.lifetime = values["session_lifetime"]
        if "seed" in values or "internal_error_rate" in values:
            with self._random_lock:
                self._random = random.Random(self._settings["seed"])
        if expire_now:
            self.sessions.expire_all()
        return self.settings()

    def settings(self) -> dict[str, Any]:
        return {**visible(self._settings), "active_sessions": self.sessions.active()}

    def received(self, history: bool = False) -> dict[str, Any]:
        return self.store.snapshot(history=history)

    def answer_lost(self, request: SimRequest, response: SimResponse, reason: str) -> None:
        """Count the lost answer, and per service the items the request carried (a lookup counts 1)."""
        super().answer_lost(request, response, reason)
        if request.path != "/api/service":
            return
        body = _json_object(request) or {}
        service = body.get("service")
        if isinstance(service, str) and service in self._operations:
            items = body.get("data")
            self.store.count_lost(service, len(items) if isinstance(items, list) else 1)

    def reset_state(self) -> None:
        """Forget what was received; settings and open sessions stay (a test resets between cases)."""
        self.store.reset()
        with self._random_lock:
            self._random = random.Random(self._settings["seed"])

    def control(self, request: SimRequest) -> SimResponse:
        if request.path == "/_sim/received" and request.method == "GET":
            summary = (request.arg("summary") or "").lower() in ("1", "true", "yes")
            history = (request.arg("history") or "").lower() in ("1", "true", "yes")
            snapshot = self.store.snapshot(summary=summary, mahoso=request.arg("mahoso"), history=history)
            return SimResponse.json(snapshot)
        return super().control(request)

    # --- login -------------------------------------------------------------------------------------------
    def _login(self, request: SimRequest) -> SimResponse:
        dstcode = request.header("dstcode")
        if not dstcode:
            return self._login_failed(codes.LOGIN_INVALID, "Thiếu mã địa phương (header dstcode)")
        if dstcode != self._settings["dstcode"]:
            return self._login_failed(codes.LOGIN_INVALID, "Mã địa phương (dstcode) không đúng")
        body = _json_object(request)
        username, password = (body or {}).get("username"), (body or {}).get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            return self._login_failed(codes.LOGIN_INVALID, "Thiếu tên đăng nhập hoặc mật khẩu")
        good_user = secrets.compare_digest(username.encode(), self._settings["username"].encode())
        good_password = secrets.compare_digest(password.encode(), self._settings["password"].encode())
        if not (good_user and good_password):
            return self._login_failed(codes.LOGIN_DENIED, "Tên đăng nhập hoặc mật khẩu không đúng")
        self.store.count_login(ok=True)
        return SimResponse.json(
            {"session": self.sessions.open(), "error_code": codes.LOGIN_OK, "message": "Thành công"}
        )

    def _login_failed(self, code: int, message: str) -> SimResponse:
        self.store.count_login(ok=False)
        return SimResponse.json({"error_code": code, "message": message})

    # --- service dispatch ----------------------------------------------------------------------------------
    def _service(self, request: SimRequest) -> SimResponse:
        body = _json_object(request)
        if body is None:
            return self._refuse(codes.INVALID, "Dữ liệu gửi lên phải là một đối tượng JSON (UTF-8)")
        if not self.sessions.is_valid(body.get("session")):
            return self._refuse(codes.SESSION_EXPIRED)
        service = body.get("service")
        operation = self._operations.get(service) if isinstance(service, str) else None
        if operation is None:
            shown = service[:60] if isinstance(service, str) else "(không có)"
            return self._refuse(codes.INVALID, f"Trường service: dịch vụ '{shown}' không được hỗ trợ")
        if body.get("madonvi") != self._settings["madonvi"]:
            return self._refuse(codes.INVALID, "Trường madonvi: không đúng mã đơn vị của tài khoản")
        if self._internal_error_now():
            return self._refuse(codes.INTERNAL)
        self.store.count_call(service)
        try:
            return operation(body)
        except Exception:  # the real portal turns its own bugs into -500 as well
            log.exception("dvcqg simulator failed on service %s", service)
            return self._refuse(codes.INTERNAL)

    def _refuse(self, code: str, message: str | None = None) -> SimResponse:
        self.store.reject(code)
        return answer(code, message)

    def _internal_error_now(self) -> bool:
        rate = self._settings["internal_error_rate"]
        if not rate:
            return False
        with self._random_lock:
            return self._random.random() < rate

    # --- operations ----------------------------------------------------------------------------------------
    def _sync_dossiers(self, body: dict[str, Any]) -> SimResponse:
        updating = parse_flag(body.get("isUpdating"))
        if updating is None:
            return self._refuse(codes.INVALID, 'Trường isUpdating: bắt buộc, phải là "True" hoặc "False"')
        apply = self._update_dossier if updating else self._create_dossier
        return self._batch(body, validation.HO_SO, "max_dossiers_per_call", "hồ sơ", apply, _dossier_key)

    def _create_dossier(self, item: dict[str, Any]) -> tuple[str, str]:
        outcome = self.store.create_dossier(item)
        return (codes.EXISTS, codes.DOSSIER_EXISTS) if outcome == "exists" else _ok(outcome)

    def _update_dossier(self, item: dict[str, Any]) -> tuple[str, str]:
        outcome = self.store.update_dossier(item)
        return (codes.NOT_FOUND, codes.DOSSIER_MISSING) if outcome == "missing" else _ok(outcome)

    def _sync_progress(self, body: dict[str, Any]) -> SimResponse:
        def apply(item: dict[str, Any]) -> tuple[str, str]:
            outcome = self.store.upsert_progress(item)
            return (codes.NOT_FOUND, codes.PROGRESS_BEFORE_DOSSIER) if outcome == "missing" else _ok(outcome)

        return self._batch(body, validation.TIEN_DO, "max_progress_per_call", "tiến độ", apply, _progress_key)

    def _sync_catalogue(self, body: dict[str, Any]) -> SimResponse:
        def apply(item: dict[str, Any]) -> tuple[str, str]:
            return _ok(self.store.upsert_catalogue(item))

        return self._batch(body, validation.DVCTT, "max_catalogue_per_call", "thủ tục", apply, _catalogue_key)

    def _find_dossier(self, body: dict[str, Any]) -> SimResponse:
        mahoso = body.get("mahoso")
        if not isinstance(mahoso, str) or not mahoso.strip():
            return self._refuse(codes.INVALID, "Trường mahoso: bắt buộc, không được để trống")
        dossier = self.store.get_dossier(mahoso)
        if dossier is None:
            return self._refuse(codes.NOT_FOUND, codes.DOSSIER_MISSING)
        return answer(codes.OK, result=dossier)

    def _list_agencies(self, body: dict[str, Any]) -> SimResponse:
        return answer(codes.OK, result=[agency.to_dict() for agency in codes.load_agencies()])

    # --- the per-item batch ----------------------------------------------------------------------------------
    def _batch(
        self,
        body: dict[str, Any],
        schema: validation.Schema,
        limit_setting: str,
        noun: str,
        apply: Callable[[dict[str, Any]], tuple[str, str]],
        key_of: Callable[[Any], dict[str, Any]],
    ) -> SimResponse:
        """Validate and apply each item on its own; answer one result per item, in request order."""
        items = body.get("data")
        limit = self._settings[limit_setting]
        if not isinstance(items, list):
            return self._refuse(codes.INVALID, "Trường data: phải là danh sách")
        if not items:
            return self._refuse(codes.INVALID, f"Trường data: không có {noun} nào")
        if len(items) > limit:
            return self._refuse(
                codes.INVALID, f"Trường data: tối đa {limit} {noun} mỗi lần gửi (nhận {len(items)})"
            )
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                code, message = codes.INVALID, f"Trường data[{index}]: phải là đối tượng JSON"
            else:
                problem = validation.validate(schema, item, self._settings["reject_unknown_fields"])
                code, message = (codes.INVALID, problem) if problem else apply(item)
            if code != codes.OK:
                self.store.reject(code)
            results.append({**key_of(item), "error_code": code, "message": message})
        failed = [r for r in results if r["error_code"] != codes.OK]
        if not failed:
            return answer(codes.OK, result=results)
        first = failed[0]
        if len(results) == 1:
            return answer(first["error_code"], first["message"], results)
        summary = (
            f"{len(failed)}/{len(results)} {noun} không được ghi nhận, {len(results) - len(failed)} thành công; "
            f"lỗi đầu tiên (vị trí {results.index(first)}): {first['message']}"
        )
        return answer(first["error_code"], summary, results)


def _ok(outcome: Outcome) -> tuple[str, str]:
    """A write and an exact repeat look the same to the client: both are accepted."""
    return codes.OK, codes.MESSAGES[codes.OK]


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dossier_key(item: Any) -> dict[str, Any]:
    return {"MaHoSo": _text_or_none(item.get("MaHoSo")) if isinstance(item, dict) else None}


def _progress_key(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"MaHoSo": None, "ThoiDiemXuLy": None, "NguoiXuLy": None}
    return {name: _text_or_none(item.get(name)) for name in ("MaHoSo", "ThoiDiemXuLy", "NguoiXuLy")}


def _catalogue_key(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"MaTTHC": None, "MaCoQuan": None}
    return {"MaTTHC": _text_or_none(item.get("MaTTHC")), "MaCoQuan": _text_or_none(item.get("MaCoQuan"))}


def _json_object(request: SimRequest) -> dict[str, Any] | None:
    """The body as a JSON object, or None: the portal answers bad bodies in-band, not with HTTP 400."""
    try:
        data = json.loads(request.body.decode("utf-8")) if request.body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


__all__ = ["DvcqgApp", "answer", "parse_flag"]
