"""The generic SOAP target (kind ``soap``), built on zeep.

- The WSDL is loaded once per process and cached (the parsed client, and zeep's document cache);
- the service address comes from the connection, not from the WSDL: the real registry sits behind
  the national service bus (NGSP), whose address differs from the one the WSDL advertises;
- WS-Security UsernameToken from the connection's login and password;
- XML is parsed with DTDs, entities and network access off;
- faults are classified: ``soap:Client`` (bad input) is permanent, ``soap:Server``, HTTP 5xx/429 and
  network errors are retried.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import jmespath
import requests
from zeep import Client, Settings
from zeep.cache import InMemoryCache
from zeep.exceptions import Fault, TransportError, ValidationError, XMLSyntaxError
from zeep.helpers import serialize_object
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from connectors.http import make_session
from connectors.targets.auth import build_auth, connection_context
from connectors.targets.base import Delivery, ItemResult, Target
from connectors.targets.spec import TargetSpec
from connectors.targets.templates import render
from lienthong.connections import Connection
from lienthong.errors import ConfigError, FatalError, RetriableError

log = logging.getLogger(__name__)
# zeep's transport logs every HTTP request and answer whole at DEBUG: the WS-Security password and the
# child's and parents' identity numbers.  Our own debug logs say what was sent, masked; zeep's never do.
logging.getLogger("zeep.transports").setLevel(logging.INFO)

SOAP_KEYS = {"wsdl", "address", "binding", "wsse", "auth"}
SAFE_XML = Settings(
    strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
)

_DOCUMENT_CACHE = InMemoryCache(timeout=24 * 3600)
_CLIENTS: dict[tuple[str, str, str | None], Client] = {}
_CLIENTS_LOCK = threading.Lock()


def _wsdl_location(spec: TargetSpec, connection: Connection, mappings_dir: Path) -> str:
    wsdl = spec.raw.get("wsdl")
    if not wsdl:
        raise ConfigError(
            f"targets/{spec.name}.yaml: wsdl is required (a URL template or @schemas/file.wsdl)"
        )
    if wsdl.startswith("@"):
        path = (mappings_dir / wsdl[1:]).resolve()
        if not path.is_file():
            raise ConfigError(f"targets/{spec.name}.yaml: wsdl: no file {path}")
        return str(path)
    return str(render(wsdl, {"conn": connection_context(connection)}))


class SoapTarget(Target):
    def __init__(self, spec: TargetSpec, connection: Connection, mappings_dir: Path) -> None:
        super().__init__(spec, connection)
        self.session = make_session(spec.timeouts, pool_size=spec.pool_size, verify=spec.verify_tls)
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
        key = (self.location, self.spec.name, self.connection.login)
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                transport = Transport(
                    session=self.session,
                    cache=_DOCUMENT_CACHE,
                    timeout=self.spec.timeouts.read,
                    operation_timeout=self.spec.timeouts.read,
                )
                try:
                    client = Client(self.location, transport=transport, settings=SAFE_XML, wsse=self.wsse)
                except (requests.RequestException, TransportError) as exc:
                    raise RetriableError(
                        f"{self.name}: WSDL could not be loaded ({type(exc).__name__})", target=self.name
                    ) from exc
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
        except Fault as fault:
            code = str(fault.code or "")
            detail = _fault_text(fault)
            if "Client" in code:
                raise FatalError(
                    f"{self.name}.{operation}: soap:Client fault: {detail}", target=self.name
                ) from None
            raise RetriableError(
                f"{self.name}.{operation}: soap:Server fault: {detail}",
                target=self.name,
                outcome_unknown=True,
            ) from None
        except TransportError as exc:
            status = exc.status_code
            if status == 429 or status >= 500:
                raise RetriableError(
                    f"{self.name}.{operation}: HTTP {status}", target=self.name, status=status
                ) from None
            raise FatalError(
                f"{self.name}.{operation}: HTTP {status}", target=self.name, status=status
            ) from None
        except requests.Timeout as exc:
            raise RetriableError(
                f"{self.name}.{operation}: no answer in time", target=self.name, outcome_unknown=True
            ) from exc
        except requests.RequestException as exc:
            raise RetriableError(
                f"{self.name}.{operation}: connection failed ({type(exc).__name__})",
                target=self.name,
                outcome_unknown=True,
            ) from exc
        except XMLSyntaxError as exc:
            raise RetriableError(
                f"{self.name}.{operation}: unreadable answer ({exc})", target=self.name
            ) from exc
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


def _plain(value: Any) -> Any:
    """zeep objects → JSON-friendly dicts, lists and strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
