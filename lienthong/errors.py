"""The gateway's errors, grouped by what the caller does next (DESIGN.md, after singer-sdk).

* :class:`ConfigError`: a file under ``mappings/`` (or a setting) is wrong. Nothing runs until a person
  fixes it; the error names the file and the path to the bad key
  (``fields.NgayHenTra.then[0].datetime.format``).
* :class:`RecordError`: this record only. Quarantine it and go on with the others;
  :class:`MappingError` is the usual one and lists every :class:`FieldError` of the record at once, so
  one fix-and-replay round is enough.
* :class:`DeliveryError` and its three *siblings*, one per next action (``connectors/answers.py``
  decides which, for every answer and transport failure of every connector):

  - :class:`RetriableError`: a call failed in a way that may pass later (timeout, HTTP 503,
    ``soap:Server``, portal ``-500``, a refused redirect, an oversized or overdue answer). Retry with
    backoff, honouring ``retry_after``; ``outcome_unknown`` when the write may have taken effect.
  - :class:`FatalError`: the target refused *this row* for good (bad request, ``soap:Client`` /
    ``soap:Sender`` fault). Retrying cannot help: the outbox row goes ``dead`` until a person replays it.
  - :class:`StopRun`: nothing will pass until a person acts (credentials refused:
    :class:`CredentialsRefused`; a counterpart that misbehaves or a wrong endpoint:
    :class:`CounterpartError`). The run fails; rows stay ``pending``, never ``dead``.

  They are siblings, not parent and child, so the order of ``except`` clauses cannot decide the
  outcome (``CredentialsRefused`` used to be a ``FatalError``: a caller catching ``FatalError`` first
  marked rows dead for a wrong password).

Messages never carry secrets nor the offending value when it may be personal data (identity numbers,
phone numbers, names): they say "got 11 characters", not the digits, because they end up in logs,
the audit ledger and the quarantine table.

Every error pickles with its attributes (``__reduce__``) because Airflow and pytest-xdist move
exceptions between processes, and the default pickling of an exception with keyword-only arguments
loses them or fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class LienthongError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(LienthongError):
    """A configuration file is invalid: ``path`` is the dotted path to the bad key inside ``file``."""

    def __init__(self, message: str, *, path: str | None = None, file: str | None = None) -> None:
        self.message = message
        self.path = path
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.message,), {"path": self.path, "file": self.file}))

    def with_file(self, file: str) -> ConfigError:
        """The same error, naming ``file`` (the loader adds it once it knows which file it was reading)."""
        if self.file is None:
            self.file = file
        return self


class RecordError(LienthongError):
    """This record cannot go on (quarantine it); the others can."""

    def __init__(self, message: str, *, route: str | None = None, record_key: str | None = None) -> None:
        self.message = message
        self.route = route
        self.record_key = record_key
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.message,), {"route": self.route, "record_key": self.record_key}))


@dataclass(frozen=True)
class FieldError:
    """One failed rule on one target field: ``field`` is the payload path (``DinhDanhCHS[0].SoDinhDanh``)."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"field {self.field}, rule {self.rule}: {self.message}"


class MappingError(RecordError):
    """A record could not be mapped: every field error of the record, in payload order."""

    def __init__(self, route: str, record_key: str | None, errors: Iterable[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        text = "; ".join(str(error) for error in self.errors) or "mapping failed"
        super().__init__(f"route {route}, record {record_key}: {text}", route=route, record_key=record_key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.route, self.record_key, self.errors))


class DeliveryError(LienthongError):
    """A delivery to a target failed; ``status`` is the HTTP status or the target's own answer code."""

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        status: int | str | None = None,
        record_key: str | None = None,
    ) -> None:
        self.message = message
        self.target = target
        self.status = status
        self.record_key = record_key
        super().__init__(message)

    def __str__(self) -> str:
        context = ", ".join(
            f"{name} {value}"
            for name, value in (("target", self.target), ("status", self.status), ("record", self.record_key))
            if value is not None
        )
        return f"{context}: {self.message}" if context else self.message

    def _state(self) -> dict[str, Any]:
        return {"target": self.target, "status": self.status, "record_key": self.record_key}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.message,), self._state()))


class RetriableError(DeliveryError):
    """Try again later; ``retry_after`` (seconds) is the target's own hint (``Retry-After``), if any."""

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        status: int | str | None = None,
        record_key: str | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        self.retry_after = retry_after
        #: The request may have reached the target and taken effect (timeout, connection lost after
        #: sending): resolve before writing again.
        self.outcome_unknown = outcome_unknown
        super().__init__(message, target=target, status=status, record_key=record_key)

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "retry_after": self.retry_after, "outcome_unknown": self.outcome_unknown}


class FatalError(DeliveryError):
    """The target refused for good: do not retry (the row goes ``dead``; a person replays it)."""


class StopRun(DeliveryError):
    """Nothing will pass until a person acts: the run fails and every row of the call stays pending."""


class CredentialsRefused(StopRun):
    """The target refused the gateway's credentials: every row of the call fails alike, so the call is
    not retried record by record (that would only repeat the refusal once per record)."""


class CounterpartError(StopRun):
    """The counterpart or its configured endpoint is wrong (a source that pages forever, an endpoint
    that does not exist, a URL that cannot be used): stop and tell the operator, lose nothing."""


def _rebuild(cls: type[Exception], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Exception:
    return cls(*args, **kwargs)


__all__ = [
    "ConfigError",
    "CounterpartError",
    "CredentialsRefused",
    "DeliveryError",
    "FatalError",
    "FieldError",
    "LienthongError",
    "MappingError",
    "RecordError",
    "RetriableError",
    "StopRun",
]
