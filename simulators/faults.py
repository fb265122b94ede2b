"""Fault injection shared by every simulator, and the count of answers the faults lost.

Faults are decided per request, before the simulator handles it, from a seeded random generator (so a
test run is reproducible) or from a *script* of faults consumed in order (so a test can say "the next
write is answered 429, the one after it commits and then loses the connection").  Network faults are
carried out on the socket by :mod:`simulators.server`; this module only decides.

It also counts the answers that were lost after the request took effect (``answers_lost``, by reason):
``drop_after_commit`` (the fault itself), ``client_gone`` (the client had closed the connection, e.g.
after its read timeout or because its process was killed, before the answer was written) and
``send_failed`` (writing the answer failed).  A client that resends only what it could not know was
applied repeats at most that many writes: the bound the reliability tests check from the target's side.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

#: Every fault kind a simulator understands.  ``soap_server`` is answered as a SOAP ``soap:Server``
#: fault by simulators that speak SOAP and as HTTP 500 by the others.
FAULT_KINDS: tuple[str, ...] = (
    "http_500",
    "http_502",
    "http_503",
    "http_429",
    "stall",  # read timeout: the server sleeps ``stall_seconds`` and then drops the connection
    "reset",  # TCP reset before anything of the answer is sent; the request is NOT processed
    "drop_after_commit",  # the request IS processed (a write takes effect), then the connection drops
    "soap_server",
)

#: Kinds in which the simulator never runs the request.
NOT_PROCESSED = frozenset({"http_500", "http_502", "http_503", "http_429", "stall", "reset", "soap_server"})


class FaultConfigError(ValueError):
    """A fault configuration that cannot be applied (unknown kind, rate outside 0..1, ...)."""


@dataclass
class FaultConfig:
    """What to inject.  Every field can be set from the CLI or ``POST /_sim/faults``."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("http_500", "http_502", "http_503", "http_429", "reset", "drop_after_commit")
    seed: int | None = None
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    retry_after: int = 1
    stall_seconds: float = 3.0
    #: Path prefixes the faults apply to; empty means every path outside ``/_sim/``.
    paths: tuple[str, ...] = ()
    #: Only requests with these methods get faults (writes are POSTs on every simulator).
    methods: tuple[str, ...] = ("GET", "POST")
    #: Faults for the next matching requests, consumed before the random draw ("none" = no fault).
    script: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultConfigError(
                f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = dict(base.to_dict()) if base else {}
        values.update(data)
        for name in ("kinds", "paths", "methods"):
            if name in values and isinstance(values[name], str):
                values[name] = tuple(v for v in values[name].split(",") if v)
            if name in values:
                values[name] = tuple(values[name])
        values["script"] = list(values.get("script") or [])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if not 0.0 <= float(self.rate) <= 1.0:
            raise FaultConfigError(f"rate must be between 0 and 1, got {self.rate!r}")
        for kind in (*self.kinds, *[k for k in self.script if k != "none"]):
            if kind not in FAULT_KINDS:
                raise FaultConfigError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.rate > 0 and not self.kinds:
            raise FaultConfigError("a fault rate above 0 needs at least one kind")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0 or self.stall_seconds < 0:
            raise FaultConfigError("latency and stall durations cannot be negative")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "seed": self.seed,
            "latency_ms": self.latency_ms,
            "latency_jitter_ms": self.latency_jitter_ms,
            "retry_after": self.retry_after,
            "stall_seconds": self.stall_seconds,
            "paths": list(self.paths),
            "methods": list(self.methods),
            "script": list(self.script),
        }


class FaultInjector:
    """Thread-safe decisions plus counts of what was injected (shown at ``GET /_sim/faults``)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._random = random.Random(self._config.seed)
        self.injected: Counter[str] = Counter()
        self.answers_lost: Counter[str] = Counter()
        self.requests_seen = 0

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)

    def reset(self) -> None:
        with self._lock:
            self._config = FaultConfig()
            self._random = random.Random()
            self.injected.clear()
            self.answers_lost.clear()
            self.requests_seen = 0

    def applies_to(self, method: str, path: str) -> bool:
        config = self._config
        if path.startswith("/_sim/"):
            return False
        if config.methods and method not in config.methods:
            return False
        return not config.paths or any(path.startswith(p) for p in config.paths)

    def decide(self, method: str, path: str) -> tuple[str | None, float]:
        """Return ``(fault kind or None, latency in seconds)`` for one request."""
        with self._lock:
            config = self._config
            if path.startswith("/_sim/"):
                return None, 0.0
            latency = config.latency_ms / 1000.0
            if config.latency_jitter_ms:
                latency += self._random.uniform(0, config.latency_jitter_ms) / 1000.0
            if not self.applies_to(method, path):
                return None, latency
            self.requests_seen += 1
            kind: str | None = None
            if config.script:
                scripted = config.script.pop(0)
                kind = None if scripted == "none" else scripted
            elif config.rate and self._random.random() < config.rate:
                kind = self._random.choice(config.kinds)
            if kind:
                self.injected[kind] += 1
            return kind, latency

    def count_lost(self, reason: str) -> None:
        """A request took effect but its answer never reached the client (``reason`` says why)."""
        with self._lock:
            self.answers_lost[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "config": self._config.to_dict(),
                "injected": dict(self.injected),
                "injected_total": sum(self.injected.values()),
                "answers_lost": dict(self.answers_lost),
                "requests_seen": self.requests_seen,
            }
