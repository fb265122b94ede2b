"""How the CLI shows runs and status to a person: a progress bar on a terminal, tables at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from lienthong import states
from lienthong.pipeline.runner import RunSummary


class RichProgress:
    """The engine's progress callbacks drawn as one bar per phase (pull, map, deliver)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def phase(self, name: str, total: int | None) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed)
        self._task = self._progress.add_task(name, total=total)

    def advance(self, amount: int, total: int | None = None) -> None:
        if self._task is None:
            return
        if total is not None:
            self._progress.update(self._task, total=max(total, self._progress.tasks[-1].completed + amount))
        self._progress.advance(self._task, amount)


#: How many lines of each kind (quarantined, delivery errors) a summary shows; it says how many more.
SHOWN = 5

STATUS_STYLE = {"succeeded": "green", "partial": "yellow", "failed": "red", "interrupted": "red"}


def _listed(console: Console, label: str, messages: list[str], total: int | None = None) -> None:
    """The first ``SHOWN`` messages, then "and N more" (out of ``total`` when more exist than were kept)."""
    for message in messages[:SHOWN]:
        console.print(f"{label} {message}", soft_wrap=True)
    more = max(len(messages), total or 0) - min(len(messages), SHOWN)
    if more > 0:
        console.print(f"{label} [dim]and {more} more[/]")


def print_summary(console: Console, summary: RunSummary) -> None:
    data = summary.to_dict()
    records = data["records"]
    rates = data["rates"]
    style = STATUS_STYLE.get(summary.status, "bold")
    console.print(
        f"[bold]route {summary.route}[/] · run {summary.run_id} · [{style}]{summary.status}[/] · "
        f"{summary.seconds:.1f} s · {rates['records_per_second']} records/s pulled, "
        f"{rates['acknowledged_per_second']} rows/s acknowledged",
        soft_wrap=True,
    )
    table = Table(show_header=True)
    table.add_column("records", style="bold")
    table.add_column("count", justify="right")
    for name in ("pulled", "mapped", "quarantined", "filtered", "unchanged"):
        table.add_row(name, str(records[name]))
    console.print(table)
    if data["carried_over"]:
        console.print(
            f"[dim]{data['carried_over']} of the record versions mapped were staged by an earlier run that "
            f"stopped before mapping them (resumed): pulled {records['pulled']} + staged earlier "
            f"{data['carried_over']} = mapped + quarantined + filtered + unchanged[/]"
        )

    rows = Table(show_header=True, title_justify="left")
    rows.add_column("outbox rows created this run", style="bold")
    rows.add_column("count", justify="right")
    for state in states.OUTBOX_STATES:
        if data["outbox_rows"].get(state):
            rows.add_row(state, str(data["outbox_rows"][state]))
    rows.add_row("total", str(data["outbox_rows_created"]), style="dim")
    console.print(rows)
    deliveries = data["deliveries"]
    answered = sum(t["answered"] for t in data["targets"].values())
    console.print(
        f"calls to targets: {deliveries['calls']} ({answered} answered), items sent: {deliveries['items_sent']}; "
        f"tombstones: {data['tombstones']}; watermark: {data['watermark'] or '-'}"
    )
    _listed(console, "[yellow]quarantined[/]", data["quarantine_messages"], records["quarantined"])
    _listed(console, "[red]delivery[/]", data["delivery_errors"])
    for target, message in data.get("breakers", {}).items():
        console.print(f"[red bold]circuit breaker {target}:[/] {message}", soft_wrap=True)
    for finding in data["findings"]:
        console.print(
            f"[{STATUS_STYLE.get(finding['status'], 'red')}]{finding['status']}:[/] {finding['message']}"
        )
    if data["released"]:
        console.print(f"{data['released']} rows in flight were handed back (pending; resent after a lookup)")
    for problem in data["checks"]:
        console.print(f"[red]does not add up:[/] {problem}")
    console.print(
        f"[dim]mapping version {summary.mapping_version} · exit code {data['exit_code']}[/]", soft_wrap=True
    )


def print_status(console: Console, data: dict[str, Any]) -> None:
    console.print(f"store: {data['store']}")
    table = Table(show_header=True)
    table.add_column("route", style="bold", no_wrap=True)
    table.add_column("watermark")
    table.add_column("waiting", justify="right")  # pending + in flight + retry scheduled
    table.add_column("blocked", justify="right")  # follow-ups behind a dead (or review) row
    table.add_column("acked", justify="right")
    table.add_column("dead", justify="right")
    table.add_column("review", justify="right")
    table.add_column("quar.", justify="right")
    table.add_column("tomb.", justify="right")
    table.add_column("last run")
    for route in data["routes"]:
        last = route.get("last_run") or {}
        outbox = route["outbox"]
        blocked = route.get("blocked", 0)
        waiting = sum(outbox.get(s, 0) for s in states.LIVE_STATES) - blocked
        table.add_row(
            route["route"],
            (route.get("watermark") or "-")[:19],
            str(waiting),
            str(blocked),
            str(outbox.get(states.ACKNOWLEDGED, 0)),
            str(outbox.get(states.DEAD, 0)),
            str(outbox.get(states.REVIEW, 0)),
            str(route["quarantine_open"]),
            str(route["tombstones"]),
            f"#{last['id']} {last['status']} {last['finished_at'] or ''}" if last else "-",
        )
    console.print(table)
    for route in data["routes"]:  # delivered records the current mapping would change (lienthong.remap)
        drift = route.get("mapping_drift")
        if drift:
            note = "" if drift["current"] else " [yellow](the mapping changed since: out of date)[/]"
            console.print(
                f"{route['route']}: {drift['would_change']} delivered record(s) sent under an older mapping "
                f"would change (computed {drift['at']} UTC by remap){note}"
            )
    console.print(
        "[dim]waiting = pending + in flight + retry scheduled (for a worker); blocked = follow-ups behind a "
        "dead or review row (for its replay); quar. = open quarantine; tomb. = tombstones to review[/]"
    )
