"""The motcua simulator's settings: one dataclass for the constructor, ``POST /_sim/config`` and the CLI.

``DATA_KEYS`` are the settings that shape the generated data; changing one of them regenerates the
data (and forgets the overlay of changes), because dossier ``i`` of one setting is another dossier
under another.  The others (token lifetime, credentials, page-size cap, churn) apply at once.

The default credentials are simulator-only demo values, published on purpose; a real deployment
reads its own from the Airflow connection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from simulators.motcua.mess import MESS_KINDS

DATA_KEYS = frozenset({"seed", "total_dossiers", "mess_rate", "mess_kinds", "birth_share"})
#: Accepted alternative names (``total`` is what the simulator cluster and the CLI pass).
ALIASES = {"total": "total_dossiers"}
DEMO_CLIENT_ID = "lienthong-demo"
DEMO_CLIENT_SECRET = "demo-secret-motcua"  # noqa: S105 - simulator-only demo credential, documented


class SettingsError(ValueError):
    """A setting that cannot be applied (unknown name, wrong type, out of range)."""


@dataclass(frozen=True)
class MotcuaSettings:
    seed: int = 20250101
    total_dossiers: int = 2000
    mess_rate: float = 0.03
    mess_kinds: tuple[str, ...] = MESS_KINDS
    churn_rate: float = 0.0
    birth_share: float = 0.10
    token_lifetime: float = 300.0
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    max_page_size: int = 500

    def updated(self, changes: dict[str, Any]) -> MotcuaSettings:
        """A validated copy with ``changes`` applied; raises :class:`SettingsError`."""
        changes = {ALIASES.get(name, name): value for name, value in changes.items()}
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise SettingsError(f"unknown motcua setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, value in changes.items():
            values[name] = _coerce(name, value)
        result = replace(self, **values)
        result.validate()
        return result

    def validate(self) -> None:
        for name in ("mess_rate", "churn_rate", "birth_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SettingsError(f"{name} must be between 0 and 1, got {value!r}")
        if not 0 <= self.total_dossiers <= 100_000_000:
            raise SettingsError(f"total_dossiers must be between 0 and 100,000,000, got {self.total_dossiers}")
        if self.token_lifetime <= 0:
            raise SettingsError(f"token_lifetime must be positive, got {self.token_lifetime}")
        if self.max_page_size < 1:
            raise SettingsError(f"max_page_size must be at least 1, got {self.max_page_size}")
        if not self.client_id or not self.client_secret:
            raise SettingsError("client_id and client_secret cannot be empty")
        unknown = [k for k in self.mess_kinds if k not in MESS_KINDS]
        if unknown:
            raise SettingsError(f"unknown mess kind(s) {unknown}; known: {', '.join(MESS_KINDS)}")

    def public(self) -> dict[str, Any]:
        """Settings as JSON, the secret masked (it is a demo value, but secrets are never echoed)."""
        data = asdict(self)
        data["mess_kinds"] = list(self.mess_kinds)
        data["client_secret"] = "***"
        return data


def _coerce(name: str, value: Any) -> Any:
    try:
        if name in ("seed", "total_dossiers", "max_page_size"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if name in ("mess_rate", "churn_rate", "birth_share", "token_lifetime"):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if name == "mess_kinds":
            if isinstance(value, str):
                value = [v for v in value.split(",") if v]
            return tuple(str(v) for v in value)
        if name in ("client_id", "client_secret"):
            if not isinstance(value, str):
                raise TypeError
            return value
    except (TypeError, ValueError):
        raise SettingsError(f"bad value for {name}: {value!r}") from None
    return value
