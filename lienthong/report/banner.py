"""The report's verdict: one banner, the same words in text, CSV and HTML, and the exit status.

- **lost** (red, exit 3): a record version or key is in no known state (``missing``): a defect to chase.
- **open** (amber, exit 4): anything open, in numbers in the first line: keys that need a person
  (quarantined, dead, in review, blocked, superseded with nothing newer, deleted at the source), acknowledged
  records sent under an older mapping (when ``lienthong remap`` provides that figure, or says it could
  not count it), and keys still on their way (pending, awaiting mapping).
- **clean** (green, exit 0): nothing of the above.

The audit ledger's verification state is shown beside the banner, not in it: it is about the ledger,
not about the records (a never-verified or failed ledger is amber or red in its own panel).
"""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.record_gap import NEEDS_PERSON_FATES
from lienthong.report.model import ReportData

CLEAN, OPEN, LOST = "clean", "open", "lost"
EXIT_CODES = {CLEAN: 0, LOST: 3, OPEN: 4}

#: How each fate reads after its number in the banner.
_PHRASES = {
    "quarantined": "quarantined",
    "dead": "dead",
    "review": "in review",
    "blocked": "blocked",
    "superseded": "superseded with nothing newer queued",
    "tombstone": "deleted at the source (tombstones)",
}


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


@dataclass(frozen=True)
class Banner:
    level: str  # clean | open | lost
    headline: str  # the first line: what is open, in numbers

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.level]

    @property
    def symbol(self) -> str:
        return {CLEAN: "✓", OPEN: "!", LOST: "✗"}[self.level]


def banner(data: ReportData) -> Banner:
    counts = data.records()
    parts = [f"{counts[fate]:,} {_PHRASES[fate]}" for fate in NEEDS_PERSON_FATES if counts[fate]]
    need = counts.needs_person
    clauses = []
    if parts:
        clauses.append(f"{', '.join(parts)} — {_n(need, 'record needs', 'records need')} a person")
    stale = sum(route.stale_mapping or 0 for route in data.routes)
    if stale:
        clauses.append(
            f"{_n(stale, 'acknowledged record was', 'acknowledged records were')} sent under an older "
            "mapping (lienthong remap)"
        )
    failed = [route.route for route in data.routes if route.stale_mapping_error]
    if failed:
        clauses.append(f"records under an older mapping could not be counted ({', '.join(failed)})")
    if counts.on_the_way:
        clauses.append(f"{_n(counts.on_the_way, 'record is', 'records are')} on their way (pending)")
        if not parts:
            clauses.append("nothing needs a person yet")
    lost_versions = sum(route.totals.missing for route in data.routes)
    lost_keys = counts["missing"]
    if lost_versions or lost_keys:
        lost = f"{_n(lost_versions, 'record version', 'record versions')} and {_n(lost_keys, 'record', 'records')}"
        return Banner(LOST, "; ".join([f"{lost} in no known state (lost: see missing below)", *clauses]))
    if clauses:
        return Banner(OPEN, "; ".join(clauses))
    settled = counts.records
    return Banner(
        CLEAN,
        f"nothing open: all {_n(settled, 'record', 'records')} pulled acknowledged by their target "
        "or out of scope (filtered)",
    )
