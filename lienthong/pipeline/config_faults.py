"""Configuration faults are not record faults: a target that refuses record after record alike.

A wrong agency code (``madonvi``) in the portal connection makes the portal refuse every dossier with
the same code and message ("Trường madonvi: không đúng mã đơn vị của tài khoản"): each row would end
``dead`` on its first attempt, a pile of dead letters to replay once the connection is fixed, and a
green run.  The portal answers codes and Vietnamese free text, not a field and a rule, so the streak
is keyed on (target, operation, answer code, normalised message): digits, quoted values and record
keys are blanked so that "hồ sơ 000.00.12.H07-250114-0042" and "hồ sơ 000.00.12.H07-250114-0043"
are one message.

When ``threshold`` *different* records in a row get the same refusal from a target operation (no
acknowledged row in between), the route stops sending to that target: the rows of the streak go back
to ``pending`` (the ones already written ``dead`` too, with a ledger entry saying why), the run fails
naming the answer and "check the configuration", and the next run after the fix delivers them
without a replay.  ``config_fault_threshold`` in the target file sets it (default 10; 0 turns it off).
A real data fault (a code list value the portal refuses) is interleaved with accepted records and
never makes a streak that long.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select, update

from lienthong import states
from lienthong.audit import hooks as audit_hooks
from lienthong.clock import utcnow
from lienthong.store.db import Store
from lienthong.store.models import OutboxRow

DEFAULT_THRESHOLD = 10
HELD = "[held: configuration fault] "

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”")
_TOKENS_WITH_DIGITS = re.compile(r"\S*\d\S*")
_SPACE = re.compile(r"\s+")


def normalise(message: str | None) -> str:
    """The message with what varies per record blanked: quoted values, any token holding a digit
    (keys, dates, counts), case and spacing."""
    text = _QUOTED.sub("…", message or "")
    text = _TOKENS_WITH_DIGITS.sub("#", text)
    return _SPACE.sub(" ", text).strip().lower()[:300]


@dataclass
class _Streak:
    key: tuple[str, str] = ("", "")  # (answer code, normalised message)
    records: set[str] = field(default_factory=set)
    row_ids: list[int] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class ConfigFault:
    target: str
    operation: str
    code: str
    message: str  # the target's own message (one example; codes and field names, no personal data)
    records: int

    def __str__(self) -> str:
        answer = f"code {self.code}: {self.message}" if self.code else self.message
        return (
            f"{self.target}.{self.operation} refused {self.records} different records in a row with the same "
            f"answer ({answer})"
        )


class StreakWatch:
    """The streaks of one run (or one deliver task), per (target, operation); thread-safe."""

    def __init__(self, thresholds: dict[str, int]) -> None:
        self.thresholds = thresholds
        self._streaks: dict[tuple[str, str], _Streak] = {}
        self._lock = threading.Lock()
        self.tripped: dict[str, ConfigFault] = {}  # target -> its fault
        #: target -> every row id of its streak (some may have been written dead by another thread
        #: before the streak tripped): swept back to pending by :func:`hold_dead` when delivery ends.
        self.held: dict[str, set[int]] = {}

    def stopped(self, target: str) -> bool:
        return target in self.tripped

    def observe(
        self,
        target: str,
        operation: str,
        row_id: int,
        record_key: str,
        ok: bool,
        code: str,
        message: str | None,
    ) -> list[int] | None:
        """One row's verdict, in answer order.  Returns the streak's row ids when this refusal trips it
        (they must go back to pending), else None."""
        threshold = self.thresholds.get(target, DEFAULT_THRESHOLD)
        if threshold <= 0:
            return None
        with self._lock:
            streak = self._streaks.setdefault((target, operation), _Streak())
            if ok:
                self._streaks[(target, operation)] = _Streak()
                return None
            key = (str(code), normalise(message))
            if key != streak.key:
                streak = self._streaks[(target, operation)] = _Streak(key=key, message=message or "")
            streak.records.add(record_key)
            streak.row_ids.append(row_id)
            if len(streak.records) >= threshold and target not in self.tripped:
                self.tripped[target] = ConfigFault(
                    target, operation, str(code), _short(message or ""), len(streak.records)
                )
                self.held.setdefault(target, set()).update(streak.row_ids)
                return list(streak.row_ids)
            if target in self.tripped:
                self.held.setdefault(target, set()).add(row_id)
                return [row_id]
            return None

    def observe_batch(
        self, target: str, operation: str, rows: list[Any], outcomes: list[Any], settled: dict[int, Any]
    ) -> ConfigFault | None:
        """A delivery batch's verdicts, in row order: an acknowledgement ends a streak, a refusal for
        good extends it; retries and spent retry budgets (transient faults, not an answer about the
        record) do neither.  Once the target's streak has tripped, the batch's refused rows are
        rewritten ``pending`` in ``outcomes`` (before they are recorded); returns the fault then."""
        keys = {row.id: row.record_key for row in rows}
        to_hold: set[int] = set()
        for outcome in outcomes:
            refused = outcome.state == states.DEAD and not (outcome.error or "").startswith("retry budget")
            if outcome.state != states.ACKNOWLEDGED and not refused:
                continue
            result = settled.get(outcome.row_id)
            response = getattr(result, "response", None)
            code = str(response.get("code") or "") if isinstance(response, dict) else ""
            ok = outcome.state == states.ACKNOWLEDGED
            tripped = self.observe(
                target, operation, outcome.row_id, keys[outcome.row_id], ok, code, outcome.error
            )
            to_hold.update(tripped or ())
        if not to_hold:
            return None
        for index, outcome in enumerate(outcomes):
            if outcome.row_id in to_hold and outcome.state == states.DEAD:
                outcomes[index] = replace(
                    outcome, state=states.PENDING, error=HELD + (outcome.error or ""), next_attempt_at=None
                )
        return self.tripped[target]


def _short(message: str) -> str:
    return _SPACE.sub(" ", message or "").strip()[:200]


def hold_dead(store: Store, row_ids: list[int], fault: ConfigFault) -> int:
    """Rows of a tripped streak already written ``dead``: back to ``pending``, with a ledger entry
    (``replayed``, mode ``held``, actor ``gateway``) so the audit trail shows why they came back."""
    if not row_ids:
        return 0
    note = f"configuration fault: {fault}"
    with store.session() as session:
        rows = list(
            session.execute(
                select(OutboxRow).where(OutboxRow.id.in_(row_ids), OutboxRow.state == states.DEAD)
            ).scalars()
        )
        if not rows:
            return 0
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_([row.id for row in rows]), OutboxRow.state == states.DEAD)
            .values(
                state=states.PENDING,
                updated_at=utcnow(),
                next_attempt_at=None,
                last_error=HELD + (rows[0].last_error or ""),
            )
        )
        audit_hooks.replays(
            session, store, rows, kind="dead", mode="held", replay_id=None, actor="gateway", note=note
        )
    return len(rows)


__all__ = ["DEFAULT_THRESHOLD", "HELD", "ConfigFault", "StreakWatch", "hold_dead", "normalise"]
