"""DESIGN.md's one vocabulary, as constants, so a typo is an import error rather than a silent state."""

from __future__ import annotations

# A source record version in a run.
STAGED = "staged"
MAPPED = "mapped"
QUARANTINED = "quarantined"
FILTERED = "filtered"
UNCHANGED = "unchanged"
RECORD_STATES = (STAGED, MAPPED, QUARANTINED, FILTERED, UNCHANGED)

# An outbox row.
PENDING = "pending"
IN_FLIGHT = "in_flight"
ACKNOWLEDGED = "acknowledged"
RETRY_SCHEDULED = "retry_scheduled"
DEAD = "dead"
SUPERSEDED = "superseded"
REVIEW = "review"
OUTBOX_STATES = (PENDING, IN_FLIGHT, ACKNOWLEDGED, RETRY_SCHEDULED, DEAD, SUPERSEDED, REVIEW)

#: Rows that still hold their (target, record key) slot: a newer version waits behind them.
LIVE_STATES = (PENDING, IN_FLIGHT, RETRY_SCHEDULED)
#: Rows no worker will touch again without a person (replay) acting.
FINAL_STATES = (ACKNOWLEDGED, DEAD, SUPERSEDED, REVIEW)

#: Not a state of a row but how a ``pending`` follow-up is reported (status, metrics, reconciliation)
#: while its parent is in one of ``BLOCKING_PARENT_STATES``: it waits for a person to replay the
#: parent, not for a worker.  Counting it as plain pending would make "the oldest pending row" age
#: forever and page the operator about the follow-up instead of the dead letter that holds it.
BLOCKED = "blocked"
BLOCKING_PARENT_STATES = (DEAD, REVIEW, SUPERSEDED)
