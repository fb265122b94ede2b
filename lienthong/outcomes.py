"""How a run ended, in words that cannot lie, and the exit code of each (docs/operations.md).

A run's status is decided from what its targets did, not from whether an exception escaped:

* ``succeeded``: everything the run took on is settled: acknowledged, quarantined, filtered,
  unchanged, or ``retry_scheduled`` behind a target that answered in this run (a retry the next run
  owns).
* ``partial``: a target answered, but the run leaves work it could not settle: rows waiting behind a
  circuit breaker that opened, or rows the target refused for good (new dead letters).
* ``failed``: a target had work and no successful call in the whole run (unreachable, credentials
  refused, breaker open from the start), a configuration fault stopped a target, or the run raised.
  A portal that is down must not read as "scheduled for a retry": its rows are ``retry_scheduled``
  and the run is still ``failed``.
* ``interrupted``: SIGINT or SIGTERM; the run row is closed before the process exits and the rows it
  held are handed back.
* ``abandoned``: its process died (SIGKILL, a lost machine); found and closed by the next process that
  opens the store (:mod:`lienthong.store.runs`).

Every ``partial``/``failed`` finding names the target, its ``scheme://host:port`` (never a
credential), how many rows it leaves pending and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

# --- the statuses of a ``runs`` row -----------------------------------------------------------------
RUNNING = "running"  # a CLI run, or an Airflow DAG run between extract and transform
DELIVERING = "delivering"  # an Airflow DAG run whose deliver tasks are working
RECONCILING = "reconciling"  # an Airflow DAG run whose reconcile task is counting
SUCCEEDED = "succeeded"
PARTIAL = "partial"
FAILED = "failed"
INTERRUPTED = "interrupted"
ABANDONED = "abandoned"

#: Statuses of a run that has not ended (a live process owns it, or it is abandoned).
OPEN_STATUSES = (RUNNING, DELIVERING, RECONCILING)
CLOSED_STATUSES = (SUCCEEDED, PARTIAL, FAILED, INTERRUPTED, ABANDONED)
RUN_STATUSES = OPEN_STATUSES + CLOSED_STATUSES

# --- exit codes of ``lienthong run`` / ``deliver`` / ``resync`` ---------------------------------------
EXIT_OK = 0
EXIT_ERROR = 1  # an error of the gateway before a run existed (the store could not be opened, ...)
EXIT_CONFIG = 2  # a configuration error: one line naming the file and key
EXIT_DOES_NOT_ADD_UP = 3  # the summary's sums do not hold (a bug: keep the store)
EXIT_FAILED = 4
EXIT_PARTIAL = 5
EXIT_INTERRUPTED = 130  # the shell's convention for a process ended by SIGINT

EXIT_CODES = {SUCCEEDED: EXIT_OK, FAILED: EXIT_FAILED, PARTIAL: EXIT_PARTIAL, INTERRUPTED: EXIT_INTERRUPTED}

# --- why a target left rows pending -------------------------------------------------------------------
UNREACHABLE = "unreachable"
CREDENTIALS_REFUSED = "credentials refused"
BREAKER_OPEN = "breaker open"
CONFIGURATION = "configuration fault"
REFUSED = "refused by the target"


def endpoint_of(url: str) -> str:
    """``scheme://host:port`` of a URL, never its user, password, path or query."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url.split("@")[-1].split("/")[0]
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port}"


@dataclass
class TargetTally:
    """What one target did during a run (or one Airflow deliver task): the facts the status is
    decided from."""

    target: str
    endpoint: str = ""
    rows: int = 0  # rows claimed and tried
    answered: int = 0  # calls the target answered (whatever it said about each item: reachable)
    calls_failed: int = 0  # calls that got no usable answer (connection, HTTP 5xx, refused login)
    dead: int = 0  # rows the target refused for good in this run
    last_failure: str | None = None  # UNREACHABLE, CREDENTIALS_REFUSED, BREAKER_OPEN, "answered HTTP 503"
    last_error: str | None = None  # the last failure's message (masked by the log filter; no secret)
    breaker_blocked: bool = False  # a worker found the breaker open and left rows waiting
    config_fault: str | None = None  # lienthong.pipeline.config_faults: the route stopped on this target

    def failed(self, reason: str, message: str) -> None:
        self.calls_failed += 1
        self.last_failure, self.last_error = reason, message

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    """One reason a run is not ``succeeded``."""

    status: str  # PARTIAL or FAILED
    target: str | None
    endpoint: str | None
    left: int  # rows of the target left pending (pending + retry_scheduled) after the run
    reason: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"target {self.target} ({self.endpoint})" if self.target else "the run"
        text = f"{where}: {self.left} rows left pending: {self.reason}" if self.target else f"{self.reason}"
        return f"{text}; {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": str(self)}


@dataclass
class Verdict:
    status: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(str(f) for f in self.findings)


def assess(tallies: dict[str, TargetTally], left: dict[str, int]) -> list[Finding]:
    """Findings per target: ``left`` is how many live rows (pending, retry scheduled; not blocked
    follow-ups) each target still has after the run."""
    findings = []
    for name, tally in sorted(tallies.items()):
        waiting = left.get(name, 0)
        had_work = tally.rows > 0 or (tally.breaker_blocked and waiting > 0)
        if tally.config_fault:
            findings.append(
                Finding(
                    FAILED,
                    name,
                    tally.endpoint,
                    waiting,
                    f"{CONFIGURATION}: {tally.config_fault}",
                    "check the configuration (the target's connection and file, the route's mapping); "
                    "the rows stay pending and the next run delivers them",
                )
            )
        elif had_work and tally.answered == 0:
            reason = tally.last_failure or (BREAKER_OPEN if tally.breaker_blocked else UNREACHABLE)
            detail = f" ({tally.last_error})" if tally.last_error and tally.last_error not in reason else ""
            if tally.breaker_blocked and reason != BREAKER_OPEN:
                detail += f", then {BREAKER_OPEN}"
            findings.append(
                Finding(
                    FAILED, name, tally.endpoint, waiting, f"{reason}{detail}; no successful call in this run"
                )
            )
        elif tally.breaker_blocked and waiting:
            findings.append(
                Finding(
                    PARTIAL,
                    name,
                    tally.endpoint,
                    waiting,
                    f"{BREAKER_OPEN} after {tally.calls_failed} failed calls"
                    + (f" (last: {tally.last_error})" if tally.last_error else ""),
                    "the next run sends them",
                )
            )
        if tally.dead and not tally.config_fault:
            findings.append(
                Finding(
                    PARTIAL,
                    name,
                    tally.endpoint,
                    waiting,
                    f"{tally.dead} rows {REFUSED} for good (dead letters)",
                    "lienthong dead list, fix, lienthong dead replay",
                )
            )
    return findings


def decide(findings: list[Finding], *, error: str | None = None, interrupted: str | None = None) -> Verdict:
    """The run's status from its findings; an interruption or an escaped error overrides them."""
    if interrupted:
        return Verdict(INTERRUPTED, [Finding(INTERRUPTED, None, None, 0, interrupted), *findings])
    if error:
        return Verdict(FAILED, [*findings, Finding(FAILED, None, None, 0, error)])
    if any(f.status == FAILED for f in findings):
        return Verdict(FAILED, findings)
    if findings:
        return Verdict(PARTIAL, findings)
    return Verdict(SUCCEEDED, [])


def exit_code(status: str, checks: list[str] | None = None) -> int:
    """The process's exit code: interrupted and failed first, then a summary that does not add up."""
    if status in (INTERRUPTED, FAILED):
        return EXIT_CODES[status]
    if checks:
        return EXIT_DOES_NOT_ADD_UP
    return EXIT_CODES.get(status, EXIT_ERROR)


__all__ = [
    "ABANDONED",
    "CLOSED_STATUSES",
    "DELIVERING",
    "EXIT_CODES",
    "FAILED",
    "INTERRUPTED",
    "OPEN_STATUSES",
    "PARTIAL",
    "RECONCILING",
    "RUNNING",
    "SUCCEEDED",
    "Finding",
    "TargetTally",
    "Verdict",
    "assess",
    "decide",
    "endpoint_of",
    "exit_code",
]
