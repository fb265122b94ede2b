"""What every target connector offers the delivery loop, whatever its protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from connectors.targets.spec import OperationSpec, TargetSpec
from lienthong.connections import Connection


@dataclass(frozen=True)
class Delivery:
    """One outbox row handed to a target."""

    row_id: int
    record_key: str
    payload: Any  # a dict, or a list of items when the operation has items_per_row
    update: bool  # a version of this key was acknowledged before: send as an update


@dataclass
class ItemResult:
    """The target's verdict on one row of a call."""

    row_id: int
    ok: bool
    retryable: bool = False
    message: str | None = None
    response: dict[str, Any] | None = None
    retry_after: float | None = None


class Target(ABC):
    """A configured external system.  ``send`` makes one call (with the re-login or "exists →
    update" step the protocol needs) and returns a result per row; a failure of the whole call
    raises ``RetriableError`` or ``FatalError``.  Retrying is the caller's job (one policy)."""

    def __init__(self, spec: TargetSpec, connection: Connection) -> None:
        self.spec = spec
        self.connection = connection

    @property
    def name(self) -> str:
        return self.spec.name

    def operation(self, name: str) -> OperationSpec:
        return self.spec.operation(name)

    @abstractmethod
    def send(self, operation: str, deliveries: list[Delivery]) -> list[ItemResult]: ...

    def can_lookup(self, operation: str) -> bool:
        """Whether :meth:`lookup` tells what this operation wrote (to resolve a lost answer)."""
        return False

    def lookup(self, record_key: str) -> dict[str, Any] | None:
        """What the target holds for a key, where it can be asked (None: not there, or cannot ask)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
