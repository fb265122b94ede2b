"""The BHXH health-insurance registry simulator: ``TheBHYTService`` over SOAP 1.1 at ``/ws/TheBHYT``.

``GET /ws/TheBHYT?wsdl`` serves the WSDL with its ``soap:address`` pointing at this very server (taken
from ``public_url`` when set, else from the request's Host header), so ``zeep.Client(url + "?wsdl")``
works out of the box.  ``POST /ws/TheBHYT`` runs one request through: overload draw -> safe parse ->
WS-Security -> SOAPAction check -> validation -> registry, and answers a response or a SOAP fault.

The default account ``lienthong-demo`` / ``demo-secret-bhxh`` is a simulator-only demo value: it exists
so that ``lienthong demo`` runs with no setup, and it protects nothing.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from datetime import date, datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from simulators.bhxh import soap
from simulators.bhxh.registry import NOT_FOUND, REGISTERED, CardRegistry, UnderSixRuleViolated
from simulators.bhxh.security import SECURITY_HEADER, UsernameTokenVerifier
from simulators.bhxh.soap import SoapFault, client_fault, server_fault
from simulators.bhxh.validation import (
    LOOKUP_SHAPE,
    REGISTRATION_SHAPE,
    parse_date,
    read_element,
    validate_lookup,
    validate_registration,
)
from simulators.faults import FaultConfig
from simulators.server import BadRequest, SimApp, SimRequest, SimResponse

log = logging.getLogger(__name__)

SERVICE_PATH = "/ws/TheBHYT"
DEFAULT_USERNAME = "lienthong-demo"
DEFAULT_PASSWORD = "demo-secret-bhxh"  # simulator-only demo credential, documented as such
DEFAULT_MAX_BODY_BYTES = 256 * 1024
OVERLOADED = "Hệ thống đang quá tải, vui lòng thử lại sau"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

REGISTER = "DangKyTheBHYTTreEm"
LOOKUP = "TraCuuTheBHYT"
SOAP_ACTIONS = {op: f"{soap.TNS}/{op}" for op in (REGISTER, LOOKUP)}

_WSDL_PLACEHOLDER = "http://localhost/ws/TheBHYT"
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_PUBLIC_URL = re.compile(
    r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:/[A-Za-z0-9._~/-]*)?"
)
_UNDERSTOOD_HEADERS = frozenset({SECURITY_HEADER})


class BhxhSimulator(SimApp):
    """Registers children for BHYT cards and looks cards up, like the BHXH registry behind NGSP."""

    name = "bhxh"

    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        seed: int = 0,
        overload_rate: float = 0.0,
        province: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        today: str | None = None,
        public_url: str | None = None,
        digest_window_seconds: float = 300.0,
        faults: FaultConfig | None = None,
    ) -> None:
        super().__init__(faults)
        self._lock = threading.Lock()
        self.registry = CardRegistry(seed)
        self.verifier = UsernameTokenVerifier(username, password, digest_window_seconds)
        self._wsdl_template = resources.files("simulators.bhxh").joinpath("TheBHYT.wsdl").read_text("utf-8")
        self._counters = self._zero_counters()
        self._settings: dict[str, Any] = {}
        self._random = random.Random(seed)
        self.configure(  # validates the constructor arguments exactly like POST /_sim/config
            {
                "username": username,
                "password": password,
                "digest_window_seconds": digest_window_seconds,
                "seed": seed,
                "overload_rate": overload_rate,
                "province": province,
                "max_body_bytes": max_body_bytes,
                "today": today,
                "public_url": public_url,
            }
        )
        self.route("GET", SERVICE_PATH, self._get_service)
        self.route("POST", SERVICE_PATH, self._post_service)

    # --- settings ------------------------------------------------------------------------------
    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Apply settings (all optional): see ``docs/simulators/bhxh.md``; unknown keys are refused."""
        checked = {name: _check_setting(name, value) for name, value in settings.items()}
        with self._lock:
            for name, value in checked.items():
                if name == "username":
                    self.verifier.username = value
                elif name == "password":
                    self.verifier.password = value
                elif name == "digest_window_seconds":
                    self.verifier.window_seconds = value
                else:
                    self._settings[name] = value
                    if name == "seed":
                        self.registry.seed = value
                        self._random = random.Random(value)
        return self.settings()

    def settings(self) -> dict[str, Any]:
        """Settings in force; the password is never shown."""
        with self._lock:
            return {
                "username": self.verifier.username,
                "digest_window_seconds": self.verifier.window_seconds,
                **self._settings,
            }

    def today(self) -> date:
        """The registration day: the ``today`` setting when set, else today in Vietnam."""
        fixed = self._settings.get("today")
        if fixed:
            parsed = parse_date(fixed)
            assert parsed is not None
            return parsed
        return datetime.now(VN_TZ).date()

    # --- control API hooks ---------------------------------------------------------------------
    @staticmethod
    def _zero_counters() -> dict[str, int]:
        return {"lookups": 0, "lookups_not_found": 0, "client_faults": 0, "server_faults": 0, "overloads": 0}

    def received(self) -> dict[str, Any]:
        state = self.registry.snapshot()
        with self._lock:
            state["totals"].update(self._counters)
        return state

    def reset_state(self) -> None:
        with self._lock:
            self.registry.reset()
            self._counters = self._zero_counters()
            self._random = random.Random(self._settings["seed"])
        self.verifier.reset()

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def fault_response(self, kind: str, request: SimRequest) -> SimResponse:
        """``soap_server`` as a real SOAP fault envelope; the other kinds stay plain HTTP."""
        if kind != "soap_server":
            return super().fault_response(kind, request)
        self._count("server_faults")
        return _fault(server_fault("Lỗi hệ thống, vui lòng thử lại sau", "LOI_HE_THONG"))

    # --- the service ---------------------------------------------------------------------------
    def _get_service(self, request: SimRequest) -> SimResponse:
        if not any(name.lower() == "wsdl" for name in request.query):
            return SimResponse.text(f"TheBHYTService: SOAP 1.1 (POST). WSDL: {SERVICE_PATH}?wsdl\n")
        address = self._service_address(request)
        body = self._wsdl_template.replace(_WSDL_PLACEHOLDER, address)
        return SimResponse(200, body.encode("utf-8"), "text/xml; charset=utf-8")

    def _service_address(self, request: SimRequest) -> str:
        public = self._settings.get("public_url")
        if public:
            return public.rstrip("/") + SERVICE_PATH
        host = (request.header("host") or "").strip()
        if not _HOST.fullmatch(host):
            host = "localhost"  # no usable Host header (HTTP/1.0 client): the client overrides it anyway
        return f"http://{host}{SERVICE_PATH}"

    def _post_service(self, request: SimRequest) -> SimResponse:
        try:
            self._maybe_overload()
            envelope = soap.parse_envelope(
                request.body, self._settings["max_body_bytes"], _UNDERSTOOD_HEADERS
            )
            self.verifier.verify(envelope.header)
            operation = envelope.operation
            if operation.namespace != soap.TNS or operation.localname not in SOAP_ACTIONS:
                raise client_fault(
                    f"thao tác không được hỗ trợ: {operation.localname}", "THAO_TAC_KHONG_HO_TRO"
                )
            _check_soap_action(request, operation.localname)
            if operation.localname == REGISTER:
                payload = self._register(read_element(envelope.payload, REGISTRATION_SHAPE))
            else:
                payload = self._lookup(read_element(envelope.payload, LOOKUP_SHAPE))
            return SimResponse(200, soap.response_envelope(payload), soap.CONTENT_TYPE)
        except SoapFault as fault:
            self._count("client_faults" if fault.code != "Server" else "server_faults")
            return _fault(fault)
        except Exception:  # noqa: BLE001 - a simulator bug must still answer like a server would
            log.exception("bhxh: unexpected error while handling a request")
            self._count("server_faults")
            return _fault(server_fault("Lỗi hệ thống", "LOI_HE_THONG"))

    def _maybe_overload(self) -> None:
        with self._lock:
            overloaded = (
                self._settings["overload_rate"] and self._random.random() < self._settings["overload_rate"]
            )
            if overloaded:
                self._counters["overloads"] += 1
        if overloaded:
            raise server_fault(OVERLOADED, "QUA_TAI")

    def _register(self, data: dict[str, Any]) -> Any:
        today = self.today()
        clean = validate_registration(data, today, self._settings.get("province"))
        try:
            result = self.registry.register(clean, today)
        except UnderSixRuleViolated as exc:
            raise SoapFault("Client", exc.message, error_code="LOI_DU_LIEU", field=exc.field) from None
        card = result.card
        log.debug("bhxh: registration answered %s", result.code)
        return soap.tns(
            f"{REGISTER}Response",
            {
                "maKetQua": result.code,
                "moTa": result.message,
                "maSoBhxh": card.ma_so_bhxh,
                "maThe": card.ma_the,
                "gtTheTu": f"{card.gt_the_tu:%Y%m%d}",
                "gtTheDen": f"{card.gt_the_den:%Y%m%d}",
                "maDKBD": card.ma_dkbd,
            },
        )

    def _lookup(self, data: dict[str, Any]) -> Any:
        key, value = validate_lookup(data)
        card = self.registry.find_by_card(value) if key == "maThe" else self.registry.find_by_identity(value)
        self._count("lookups")
        if card is None:
            self._count("lookups_not_found")
            return soap.tns(f"{LOOKUP}Response", {"maKetQua": NOT_FOUND, "moTa": "Không tìm thấy thẻ BHYT"})
        return soap.tns(
            f"{LOOKUP}Response",
            {"maKetQua": REGISTERED, "moTa": "Tìm thấy thẻ BHYT", "the": card.to_dict(self.today())},
        )


def _fault(fault: SoapFault) -> SimResponse:
    return SimResponse(fault.status, soap.fault_envelope(fault), soap.CONTENT_TYPE)


def _check_soap_action(request: SimRequest, operation: str) -> None:
    """An empty or absent SOAPAction is accepted; a different one is refused (the body decides)."""
    action = (request.header("soapaction") or "").strip().strip('"')
    if action and action != SOAP_ACTIONS[operation]:
        raise client_fault("SOAPAction không khớp với thao tác trong soap:Body", "SAI_SOAPACTION")


def _check_setting(name: str, value: Any) -> Any:
    """Validate one setting; raise ``BadRequest`` (HTTP 400 on ``/_sim/config``) with the reason."""
    if name in ("username", "password"):
        if not isinstance(value, str) or not value:
            raise BadRequest(f"{name} must be a non-empty string")
        return value
    if name == "seed":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest("seed must be an integer")
        return value
    if name == "overload_rate":
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise BadRequest("overload_rate must be a number between 0 and 1")
        return float(value)
    if name == "province":
        if value is not None and not (isinstance(value, str) and re.fullmatch(r"\d{2}", value)):
            raise BadRequest("province must be null or a 2-digit code such as '83'")
        return value
    if name == "max_body_bytes":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1024:
            raise BadRequest("max_body_bytes must be an integer >= 1024")
        return value
    if name == "today":
        if value is not None and (not isinstance(value, str) or parse_date(value) is None):
            raise BadRequest("today must be null or a real date as yyyyMMdd")
        return value
    if name == "public_url":
        if value is not None and not (isinstance(value, str) and _PUBLIC_URL.fullmatch(value)):
            raise BadRequest("public_url must be null or an http(s) URL such as http://bhxh.example:8083")
        return value
    if name == "digest_window_seconds":
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise BadRequest("digest_window_seconds must be a positive number")
        return float(value)
    raise BadRequest(
        f"unknown bhxh setting {name!r}; known: digest_window_seconds, max_body_bytes, overload_rate, "
        "password, province, public_url, seed, today, username"
    )
