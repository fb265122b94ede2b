"""Audit settings of one store: on or off, where its keys and checkpoint file live.

A :class:`~lienthong.pipeline.runner.Gateway` attaches its settings to its store; a store opened on
its own (tests, tools) gets the environment's.  ``LIENTHONG_AUDIT=off`` turns the ledger, the
archive and sealing off: a benchmarking switch to measure their cost, never for production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lienthong.audit import keyring

ENV_SWITCH = "LIENTHONG_AUDIT"
ENV_SIGNING_KEY = "LIENTHONG_SIGNING_KEY_FILE"
ENV_CHECKPOINTS = "LIENTHONG_CHECKPOINTS_FILE"
ENV_RETENTION = "LIENTHONG_RETENTION_DAYS"
#: A checkpoint is signed after a delivery batch once this process appended this many entries, or
#: this many seconds passed, since its last checkpoint (besides the one at the end of every run).
ENV_CHECKPOINT_ENTRIES = "LIENTHONG_AUDIT_CHECKPOINT_ENTRIES"
ENV_CHECKPOINT_SECONDS = "LIENTHONG_AUDIT_CHECKPOINT_SECONDS"
#: How long an unsigned tail (entries after the last signed checkpoint) may be before a strict
#: verification fails: entries, and seconds since the first unsigned entry.
ENV_TAIL_ENTRIES = "LIENTHONG_AUDIT_TAIL_ENTRIES"
ENV_TAIL_SECONDS = "LIENTHONG_AUDIT_TAIL_SECONDS"


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number (got {value[:20]!r})") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


@dataclass(frozen=True)
class Tolerance:
    """How much unsigned tail a strict verification accepts (a live store always has some)."""

    entries: int = 5000
    seconds: float = 600.0

    @classmethod
    def from_env(cls) -> Tolerance:
        return cls(int(_number(ENV_TAIL_ENTRIES, cls.entries)), _number(ENV_TAIL_SECONDS, cls.seconds))


def checkpoint_interval() -> tuple[int, float]:
    """(entries, seconds) between the checkpoints signed while delivering."""
    return int(_number(ENV_CHECKPOINT_ENTRIES, 2000)), _number(ENV_CHECKPOINT_SECONDS, 60.0)


@dataclass
class AuditConfig:
    enabled: bool
    data_dir: Path

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def keyring(self) -> keyring.Keyring:
        # Loaded once per store (sealing is on the hot path); a rotation takes effect at the next start.
        cached = self.__dict__.get("_ring")
        if cached is None or cached[0] != keyring.generation:
            cached = self.__dict__["_ring"] = (keyring.generation, keyring.load(self.keys_dir))
        return cached[1]

    @property
    def signing_key_file(self) -> Path:
        configured = os.environ.get(ENV_SIGNING_KEY)
        return Path(configured) if configured else self.keys_dir / "audit-signing.pem"

    @property
    def public_key_file(self) -> Path:
        return self.signing_key_file.with_suffix(".pub")

    @property
    def checkpoints_file(self) -> Path:
        configured = os.environ.get(ENV_CHECKPOINTS)
        return Path(configured) if configured else self.data_dir / "audit" / "checkpoints.jsonl"

    @property
    def retention_days(self) -> int | None:
        value = os.environ.get(ENV_RETENTION)
        return int(value) if value else None


def switch_on(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(ENV_SWITCH, "on").strip().lower() not in {"off", "0", "false", "no"}


def data_dir_for(store, settings) -> Path:  # noqa: ANN001
    """Where a store's keys and checkpoint file live: beside a SQLite file (``.lienthong/`` by
    default), else the settings' data directory.  A checkpoint file belongs to one store."""
    from sqlalchemy.engine import make_url

    url = make_url(store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return Path(settings.data_dir)


def attach(store, settings) -> AuditConfig:  # noqa: ANN001
    config = AuditConfig(enabled=switch_on(), data_dir=data_dir_for(store, settings))
    store.audit_config = config
    # Loaded now, not at the first seal: reading a sealed column opens it with the key it names, and
    # that key must come from this store's ring (its directory), even in a process that only reads.
    config.keyring  # noqa: B018
    return config


def config_for(store) -> AuditConfig:  # noqa: ANN001
    config = getattr(store, "audit_config", None)
    if config is None:
        from lienthong.settings import Settings

        config = attach(store, Settings.from_env())
    return config


def enabled(store) -> bool:  # noqa: ANN001
    return config_for(store).enabled


def seal_for(store, text: str, *, kind: str | None = None, digest: str | None = None) -> str:  # noqa: ANN001
    """``text`` sealed with the store's current key (plain when the audit is switched off); with
    ``kind`` and ``digest`` bound to them (format 3: payloads and answers)."""
    from lienthong.audit.sealing import seal

    config = config_for(store)
    return seal(text, config.keyring, kind=kind, digest=digest) if config.enabled else text
