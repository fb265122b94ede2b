"""The one classifier of counterpart answers: what the caller does next.

Every connector (the one-stop source, its token endpoint, the REST target and its login, the SOAP
target and its WSDL download) turns an HTTP status, a SOAP fault or a transport exception into a
:class:`Verdict` here, and raises the error of that verdict.  Four drifting copies of this decision
used to disagree (a SOAP 401 made rows dead, SOAP 1.2 ``Sender`` faults were retried, exceptions were
matched on their ``repr``); one table cannot drift from itself.

The next actions (``lienthong.errors`` has one error class per action, siblings):

* ``STOP_RUN``: credentials refused, or a configuration or counterpart fault no row can get past.
  The run fails, rows stay pending (:class:`~lienthong.errors.StopRun`).
* ``REJECT``: the target refused this row for good (:class:`~lienthong.errors.FatalError`: dead).
* ``RETRY``: a failed attempt that did not take effect; try later (breaker and budget count it).
* ``UNKNOWN``: a failed attempt that *may* have taken effect (the request left; the answer was lost,
  late, oversized or unreadable): retry, but resolve what the target holds before writing again.
  For a read the difference does not matter, and ``UNKNOWN`` becomes ``RETRY``.

Exceptions are recognised by ``isinstance`` on the transport's classes, never by their text; and no
reason carries an exception's text, a URL's path or query, or a body: those can hold credentials or
personal data (a zeep ``TransportError`` quotes the whole answer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests
import urllib3.exceptions
from zeep import exceptions as zeep_errors

from connectors.http import BodyTooLarge, DeadlineExceeded, RedirectRefused, SchemeRefused
from lienthong.errors import (
    CounterpartError,
    CredentialsRefused,
    DeliveryError,
    FatalError,
    RetriableError,
)


class Action(Enum):
    STOP_RUN = "stop_run"
    REJECT = "reject"
    RETRY = "retry"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str  # short, safe to log: never a body, a credential or personal data
    status: int | str | None = None
    retry_after: float | None = None
    credentials: bool = False  # a STOP_RUN because the counterpart refused who we are

    def error(self, place: str, *, target: str | None = None) -> DeliveryError:
        """The error of this verdict; ``place`` names where (``dvcqg.DongBoHoSoMC (http://h:80)``)."""
        # "token endpoint http://127.0.0.1:9/… unreachable (connection refused)": reads as one sentence.
        joint = " " if self.reason.startswith("unreachable") else ": "
        message = f"{place}{joint}{self.reason}"
        if self.action is Action.STOP_RUN:
            cls = CredentialsRefused if self.credentials else CounterpartError
            return cls(message, target=target, status=self.status)
        if self.action is Action.REJECT:
            return FatalError(message, target=target, status=self.status)
        return RetriableError(
            message,
            target=target,
            status=self.status,
            retry_after=self.retry_after,
            outcome_unknown=self.action is Action.UNKNOWN,
        )


def _maybe(write: bool) -> Action:
    return Action.UNKNOWN if write else Action.RETRY


# --- HTTP status ---------------------------------------------------------------------------------
def of_status(status: int, *, write: bool = True, retry_after: float | None = None) -> Verdict | None:
    """The verdict of an HTTP status; None for a 2xx (read the body: the target's own codes decide)."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return Verdict(Action.RETRY, f"answered a redirect (HTTP {status}), never followed", status)
    if status in (401, 407):
        return Verdict(Action.STOP_RUN, f"credentials refused (HTTP {status})", status, credentials=True)
    if status == 403:
        return Verdict(Action.STOP_RUN, "access refused (HTTP 403)", status, credentials=True)
    if status in (405, 501):
        # The endpoint does not take this method: the configuration is wrong, not the record.
        return Verdict(Action.STOP_RUN, f"the endpoint does not take this request (HTTP {status})", status)
    if status in (408, 425, 429, 503):
        # The target says it did not process the request: safe to send again, later.
        return Verdict(Action.RETRY, f"HTTP {status}", status, retry_after=retry_after)
    if 400 <= status < 500:
        return Verdict(Action.REJECT, f"HTTP {status}", status)
    # 500, 502, 504 and anything else a target may invent: the request may have taken effect.
    return Verdict(_maybe(write), f"HTTP {status}", status, retry_after=retry_after)


# --- SOAP faults ---------------------------------------------------------------------------------
#: WS-Security fault codes (OASIS WSS 1.0, section 12): the counterpart refused who we are.
WSSE_CREDENTIAL_CODES = frozenset(
    {
        "FailedAuthentication",
        "InvalidSecurityToken",
        "InvalidSecurity",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "UnsupportedSecurityToken",
        "MessageExpired",
    }
)


def _local(code: Any) -> str:
    """``soap:Client.Auth`` / ``{ns}Sender`` / QName → ``Client.Auth`` / ``Sender``."""
    text = str(getattr(code, "localname", None) or code or "").strip()
    return text.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def of_fault(
    code: Any,
    subcodes: Iterable[Any] = (),
    *,
    write: bool = True,
    detail_codes: Iterable[str] = (),
    credential_codes: Iterable[str] = (),
) -> Verdict:
    """SOAP 1.1 (``Client``/``Server``) and 1.2 (``Sender``/``Receiver``) faults.

    ``credential_codes`` are a target's own detail codes meaning "authentication failed" (the BHXH
    registry answers ``soap:Client`` with ``XAC_THUC_THAT_BAI``): those stop the run instead of
    killing the row.
    """
    local = _local(code)
    head, _, tail = local.partition(".")
    subs = [_local(s) for s in subcodes]
    refused_auth = (
        head in WSSE_CREDENTIAL_CODES
        or any(s in WSSE_CREDENTIAL_CODES for s in subs)
        or bool(set(detail_codes) & set(credential_codes))
        or tail.lower().startswith("auth")
    )
    if refused_auth:
        return Verdict(
            Action.STOP_RUN, f"soap:{local} fault: authentication refused", local, credentials=True
        )
    if head in ("Client", "Sender"):
        return Verdict(Action.REJECT, f"soap:{local} fault (the request was refused)", local)
    if head in ("VersionMismatch", "MustUnderstand", "DataEncodingUnknown"):
        return Verdict(Action.STOP_RUN, f"soap:{local} fault: the target and the gateway disagree", local)
    if head in ("Server", "Receiver"):
        return Verdict(_maybe(write), f"soap:{local} fault", local)
    return Verdict(_maybe(write), f"SOAP fault with an unknown code {local[:40]!r}", local or None)


# --- transport exceptions ------------------------------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what ``requests`` wraps in it (urllib3's error and its ``reason``), and causes."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 12:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([*getattr(item, "args", ())[:1], getattr(item, "reason", None)])
        todo.extend([item.__cause__, item.__context__])
    return seen


def _has(chain: list[BaseException], *classes: type[BaseException]) -> bool:
    return any(isinstance(item, classes) for item in chain)


def of_exception(exc: BaseException, *, write: bool = True) -> Verdict | None:
    """The verdict of a transport exception; None when it is not one (a bug: let it rise)."""
    if isinstance(exc, RedirectRefused):
        return Verdict(
            Action.RETRY,
            f"answered a redirect (HTTP {exc.status}) to {exc.location_host}; redirects are never followed",
            exc.status,
        )
    if isinstance(exc, BodyTooLarge):
        return Verdict(
            _maybe(write), f"answer larger than the cap of {exc.limit} bytes, refused (HTTP {exc.status})"
        )
    if isinstance(exc, DeadlineExceeded):
        return Verdict(_maybe(write), f"answer not complete within the call's deadline of {exc.seconds:g} s")
    if isinstance(exc, SchemeRefused):
        return Verdict(Action.STOP_RUN, str(exc))
    if isinstance(exc, zeep_errors.Fault):
        return of_fault(exc.code, exc.subcodes or (), write=write)
    if isinstance(exc, zeep_errors.TransportError):
        verdict = of_status(int(exc.status_code or 0), write=write)
        return verdict or Verdict(_maybe(write), f"unreadable answer (HTTP {exc.status_code})")
    if isinstance(exc, (zeep_errors.DTDForbidden, zeep_errors.EntitiesForbidden)):
        return Verdict(_maybe(write), "answer refused: it declares a DOCTYPE or entities")
    if isinstance(exc, zeep_errors.ExternalReferenceForbidden):
        return Verdict(_maybe(write), "answer refused: it references an external document")
    if isinstance(exc, (zeep_errors.XMLSyntaxError, zeep_errors.XMLParseError)):
        return Verdict(_maybe(write), "unreadable answer (not well-formed XML)")
    if not isinstance(exc, requests.RequestException):
        return None
    chain = _chain(exc)
    if isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidJSONError)):
        # requests quotes the offending header value (a token with a newline): never echo it.
        return Verdict(
            Action.STOP_RUN, "a request could not be built (a credential or header value is malformed)"
        )
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ),
    ):
        return Verdict(Action.STOP_RUN, "the configured URL cannot be used")
    if isinstance(exc, requests.exceptions.SSLError):
        return Verdict(Action.RETRY, "unreachable (TLS handshake or certificate refused)")
    if _has(chain, urllib3.exceptions.NameResolutionError):
        return Verdict(Action.RETRY, "unreachable (host name not resolved)")
    if _has(chain, ConnectionRefusedError):
        return Verdict(Action.RETRY, "unreachable (connection refused)")
    if _has(chain, urllib3.exceptions.NewConnectionError):
        return Verdict(Action.RETRY, "unreachable (no connection)")
    # After the three above: urllib3's NewConnectionError is itself a ConnectTimeoutError.
    if isinstance(exc, requests.ConnectTimeout) or _has(chain, urllib3.exceptions.ConnectTimeoutError):
        return Verdict(Action.RETRY, "unreachable (no connection within the connect timeout)")
    if isinstance(exc, requests.Timeout):
        return Verdict(_maybe(write), "no answer in time")
    if isinstance(exc, requests.ConnectionError):
        return Verdict(_maybe(write), "connection lost during the call")
    return Verdict(_maybe(write), f"request failed ({type(exc).__name__})")


def error_for(
    exc: BaseException, place: str, *, target: str | None = None, write: bool = True
) -> DeliveryError:
    """The gateway error for a transport exception; re-raises ``exc`` when it is not one."""
    verdict = of_exception(exc, write=write)
    if verdict is None:
        raise exc
    return verdict.error(place, target=target)


__all__ = ["Action", "Verdict", "error_for", "of_exception", "of_fault", "of_status"]
