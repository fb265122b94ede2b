"""The generic SOAP target (kind ``soap``), built on zeep.

- The WSDL is loaded once per process and cached (the parsed client, and zeep's document cache);
- the service address comes from the connection, not from the WSDL: the real registry sits behind
  the national service bus (NGSP), whose address differs from the one the WSDL advertises;
- WS-Security UsernameToken from the connection's login and password;
- XML is parsed with DTDs, entities and network access off; the transport (:class:`SafeTransport`)
  loads documents over http(s) only, through the gateway's session (no redirect, a size cap, a
  deadline), and local files only from inside the mapping folder (never ``file://``);
- faults, statuses and transport failures are classified by :mod:`connectors.answers`:
  ``Client``/``Sender`` (bad input) is permanent, ``Server``/``Receiver`` and a lost answer are
  retried with the outcome unknown, a 401/403 or an authentication fault (WS-Security codes, or the
  target's own ``faults.credentials`` detail codes) stops the run with the rows pending.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jmespath
from zeep import Client, Settings
from zeep.cache import InMemoryCache
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError, ValidationError
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from connectors import answers
from connectors.http import SchemeRefused, make_session, origin
from connectors.targets.auth import build_auth, connection_context
from connectors.targets.base import Delivery, ItemResult, Target
from connectors.targets.spec import TargetSpec
from connectors.targets.templates import render
from lienthong.connections import Connection
from lienthong.errors import ConfigError, CounterpartError, FatalError, RetriableError

log = logging.getLogger(__name__)
# zeep's transport logs every HTTP request and answer whole at DEBUG: the WS-Security password and the
# child's and parents' identity numbers.  Our own debug logs say what was sent, masked; zeep's never do.
logging.getLogger("zeep.transports").setLevel(logging.INFO)

SOAP_KEYS = {"wsdl", "address", "binding", "wsse", "auth", "faults"}
SAFE_XML = Settings(
    strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
)

_DOCUMENT_CACHE = InMemoryCache(timeout=24 * 3600)
_CLIENTS: dict[tuple[str, str, str | None, str], Client] = {}
_CLIENTS_LOCK = threading.Lock()


class SafeTransport(Transport):
    """zeep's transport, confined: http(s) through the gateway's session, local files from ``root`` only.

    zeep mounts a ``file://`` adapter on the session it is given and ``open()``s any location without
    a scheme, so a WSDL (or a schema it imports) could read ``/dev/zero`` or any file of the host.
    """

    def __init__(self, *, root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root.resolve()

    def load(self, url: str) -> bytes:
        if not url:
            raise ValueError("No url given to load")
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            return super().load(url)
        if scheme and len(scheme) > 1:  # file://, ftp://, …: one-letter schemes are Windows drives
            raise SchemeRefused(url)
        path = Path(url).expanduser().resolve()
        if not path.is_relative_to(self.root):
            raise ConfigError(f"a WSDL or schema location outside the mapping folder is refused: {path.name}")
        with open(path, "rb") as handle:
            return handle.read()


def _wsdl_location(spec: TargetSpec, connection: Connection, mappings_dir: Path) -> str:
    wsdl = spec.raw.get("wsdl")
    if not wsdl:
        raise ConfigError(
            f"targets/{spec.name}.yaml: wsdl is required (a URL template or @schemas/file.wsdl)"
        )
    if wsdl.startswith("@"):
        path = (mappings_dir / wsdl[1:]).resolve()
        if not path.is_relative_to(mappings_dir.resolve()):
            raise ConfigError(f"targets/{spec.name}.yaml: wsdl: {wsdl!r} is outside the mapping folder")
        if not path.is_file():
            raise ConfigError(f"targets/{spec.name}.yaml: wsdl: no file {path}")
        return str(path)
    return str(render(wsdl, {"conn": connection_context(connection)}))


class SoapTarget(Target):
    def __init__(self, spec: TargetSpec, connection: Connection, mappings_dir: Path) -> None:
        super().__init__(spec, connection)
        self.session = make_session(
            spec.timeouts, pool_size=spec.pool_size, verify=spec.verify_tls, limits=spec.limits
        )
        self.mappings_dir = mappings_dir
        faults = spec.raw.get("faults") or {}
        if not isinstance(faults, dict) or set(faults) - {"credentials"}:
            raise ConfigError(
                f"targets/{spec.name}.yaml: faults: only credentials (detail codes of refused credentials)"
            )
        self.credential_codes = frozenset(str(c) for c in faults.get("credentials") or ())
        # HTTP-level credentials some service buses (LGSP/NGSP gateways) demand besides WS-Security.
        auth_config = spec.raw.get("auth")
        if auth_config and auth_config.get("type") not in (None, "none", "basic", "bearer"):
            raise ConfigError(
                f"targets/{spec.name}.yaml: auth.type: a SOAP target takes none, basic or bearer"
            )
        build_auth(auth_config, connection, self.session, spec.name).apply_to_session(self.session)
        self.location = _wsdl_location(spec, connection, mappings_dir)
        address = spec.raw.get("address")
        if not address:
            raise ConfigError(
                f'targets/{spec.name}.yaml: address is required, e.g. "${{conn.base_url}}/ws/Service"'
            )
        self.address = str(render(address, {"conn": connection_context(connection)}))
        wsse_type = (spec.raw.get("wsse") or {}).get("type", "username_token")
        if wsse_type not in ("username_token", "none"):
            raise ConfigError(f"targets/{spec.name}.yaml: wsse.type: must be username_token or none")
        self.wsse = (
            UsernameToken(connection.login or "", connection.password or "")
            if wsse_type == "username_token"
            else None
        )
        self.client = self._client()
        binding = spec.raw.get("binding") or next(iter(self.client.wsdl.bindings))
        self.service = self.client.create_service(binding, self.address)
        self._paths = {
            name: jmespath.compile(op.success["path"]) for name, op in spec.operations.items() if op.success
        }

    def _client(self) -> Client:
        key = (self.location, self.spec.name, self.connection.login, str(self.mappings_dir))
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                transport = SafeTransport(
                    root=self.mappings_dir,
                    session=self.session,
                    cache=_DOCUMENT_CACHE,
                    timeout=self.spec.timeouts.read,
                    operation_timeout=self.spec.timeouts.read,
                )
                try:
                    client = Client(self.location, transport=transport, settings=SAFE_XML, wsse=self.wsse)
                except Exception as exc:  # noqa: BLE001 - classified, or re-raised when not a transport error
                    remote = urlsplit(self.location).scheme in ("http", "https")
                    where = origin(self.location) if remote else "the mapping folder"
                    place = f"{self.name}: WSDL could not be loaded from {where}"
                    if isinstance(exc, ZeepError) and not isinstance(exc, (Fault, TransportError)):
                        # The document itself is refused (DOCTYPE, external reference, not XML):
                        # fetching it again brings the same document.
                        verdict = answers.of_exception(exc, write=False)
                        reason = verdict.reason if verdict else f"not a usable WSDL ({type(exc).__name__})"
                        raise CounterpartError(f"{place}: {reason}", target=self.name) from None
                    raise answers.error_for(exc, place, target=self.name, write=False) from None
                _CLIENTS[key] = client
            else:
                client.transport.session = self.session
            return client

    def close(self) -> None:
        self.session.close()

    def send(self, operation: str, deliveries: list[Delivery]) -> list[ItemResult]:
        op = self.operation(operation)
        call = getattr(self.service, operation, None)
        if call is None:
            raise ConfigError(f"targets/{self.name}.yaml: the WSDL has no operation {operation!r}")
        if len(deliveries) == 1:
            return [self._send_one(op.name, call, deliveries[0])]
        results = []
        for delivery in deliveries:  # one record per SOAP call; a failure stays with its row
            try:
                results.append(self._send_one(op.name, call, delivery))
            except FatalError as exc:
                results.append(ItemResult(delivery.row_id, ok=False, message=str(exc)))
            except RetriableError as exc:
                results.append(ItemResult(delivery.row_id, ok=False, retryable=True, message=str(exc)))
        return results

    def _send_one(self, operation: str, call: Any, delivery: Delivery) -> ItemResult:
        op = self.operation(operation)
        try:
            answer = call(**delivery.payload)
        except (TypeError, ValidationError) as exc:
            # The payload does not fit the WSDL (an element it lacks, a required one missing):
            # the route and the target disagree, and resending cannot help.
            raise FatalError(
                f"{self.name}.{operation}: the payload does not fit the WSDL: {exc}", target=self.name
            ) from None
        except Exception as exc:  # noqa: BLE001 - classified, or re-raised when not a transport error
            place = f"{self.name}.{operation} ({origin(self.address)})"
            if isinstance(exc, Fault):
                detail = _fault_text(exc)
                verdict = answers.of_fault(
                    exc.code,
                    exc.subcodes or (),
                    detail_codes=_detail_codes(exc),
                    credential_codes=self.credential_codes,
                )
                error = verdict.error(place, target=self.name)
                if detail:
                    error.message += f": {detail}"
                raise error from None
            raise answers.error_for(exc, place, target=self.name) from None
        body = _plain(serialize_object(answer))
        kept = {name: body.get(name) for name in op.keep} if isinstance(body, dict) else {}
        path = self._paths.get(operation)
        if path is not None:
            value = path.search(body)
            if str(value) not in {str(v) for v in op.success["in"]}:
                message = f"{self.name}.{operation}: answer {op.success['path']}={value}"
                reason = jmespath.search(op.success["message"], body) if op.success.get("message") else None
                if reason:
                    message += f": {reason}"
                return ItemResult(delivery.row_id, ok=False, message=message, response=kept)
        return ItemResult(delivery.row_id, ok=True, response=kept)


def _fault_text(fault: Fault) -> str:
    message = str(fault.message or "").strip()
    if fault.detail is not None:
        texts = [t.strip() for t in fault.detail.itertext() if t.strip()]
        if texts and texts[0] not in message:
            message += f" ({'; '.join(texts)})"
    return message


def _detail_codes(fault: Fault) -> set[str]:
    """The short texts of a fault's detail (codes such as ``XAC_THUC_THAT_BAI``)."""
    if fault.detail is None:
        return set()
    return {t.strip() for t in fault.detail.itertext() if t.strip() and len(t.strip()) <= 64}


def _plain(value: Any) -> Any:
    """zeep objects → JSON-friendly dicts, lists and strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
