"""CLI command groups beyond ``run``/``resync``/``status``: quarantine, mapping, simulators, demo."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from lienthong.errors import MappingError
from lienthong.masking import mask_text

console = Console(highlight=False)


def _gateway(ctx: click.Context):  # noqa: ANN202
    from lienthong.cli import gateway_from

    return gateway_from(ctx)


# --- quarantine ---------------------------------------------------------------------------------
@click.group()
def quarantine() -> None:
    """Records that failed mapping or validation: list, show, replay after a fix."""


@quarantine.command("list")
@click.option("--route", help="Only this route.")
@click.option("--all", "show_all", is_flag=True, help="Include entries already replayed.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quarantine_list(ctx: click.Context, route: str | None, show_all: bool, as_json: bool) -> None:
    """Open quarantine entries with the fields and rules that failed."""
    from lienthong.store.models import QuarantineEntry

    gateway = _gateway(ctx)
    with gateway.store.session() as session:
        query = select(QuarantineEntry).order_by(QuarantineEntry.id)
        if route:
            query = query.where(QuarantineEntry.route == route)
        if not show_all:
            query = query.where(QuarantineEntry.state == "open")
        entries = list(session.execute(query).scalars())
    if as_json:
        click.echo(json.dumps([_entry_dict(e) for e in entries], ensure_ascii=False, indent=2))
        return
    table = Table(show_header=True)
    for column in ("id", "route", "record", "state", "created (UTC)", "problem"):
        table.add_column(column)
    for entry in entries:
        errors = json.loads(entry.errors)
        problem = "; ".join(f"{e['field']}: {e['rule']}" for e in errors) or entry.message
        table.add_row(
            str(entry.id),
            entry.route,
            entry.record_key,
            entry.state,
            f"{entry.created_at:%Y-%m-%d %H:%M}",
            problem,
        )
    console.print(table)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")


def _entry_dict(entry) -> dict:  # noqa: ANN001
    return {
        "id": entry.id,
        "route": entry.route,
        "record_key": entry.record_key,
        "state": entry.state,
        "message": entry.message,
        "errors": json.loads(entry.errors),
        "mapping_version": entry.mapping_version,
        "created_at": entry.created_at.isoformat(),
    }


@quarantine.command("show")
@click.argument("entry_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quarantine_show(ctx: click.Context, entry_id: int, as_json: bool) -> None:
    """One entry: every field error, and the source record (personal data masked)."""
    from lienthong.store.models import QuarantineEntry, StagedRecord

    gateway = _gateway(ctx)
    with gateway.store.session() as session:
        entry = session.get(QuarantineEntry, entry_id)
        if entry is None:
            raise click.ClickException(f"no quarantine entry {entry_id}")
        staged = session.get(StagedRecord, entry.staged_id)
    data = _entry_dict(entry)
    record = json.loads(staged.body) if staged else None
    if as_json:
        data["record"] = json.loads(mask_text(json.dumps(record, ensure_ascii=False))) if record else None
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console.print(
        f"[bold]quarantine entry {entry.id}[/] · route {entry.route} · record {entry.record_key} · {entry.state}"
    )
    for error in data["errors"]:
        console.print(f"  field [bold]{error['field']}[/], rule [bold]{error['rule']}[/]: {error['message']}")
    console.print(f"mapping version {entry.mapping_version}")
    if record is not None:
        console.print("source record (identity and phone numbers masked):")
        console.print(mask_text(json.dumps(record, ensure_ascii=False, indent=2)))


@quarantine.command("replay")
@click.argument("entry_ids", type=int, nargs=-1)
@click.option("--route", help="Replay every open entry of this route.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quarantine_replay(
    ctx: click.Context, entry_ids: tuple[int, ...], route: str | None, as_json: bool
) -> None:
    """Map quarantined records again with the current mapping files and deliver what now passes."""
    from lienthong.quarantine import replay

    if not entry_ids and not route:
        raise click.UsageError("name entry ids or --route")
    gateway = _gateway(ctx)
    summaries = replay(gateway, list(entry_ids), route)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in summaries], ensure_ascii=False, indent=2, default=str))
        return
    from lienthong.cli_output import print_summary

    for summary in summaries:
        print_summary(console, summary)


# --- mapping ------------------------------------------------------------------------------------
@click.group()
def mapping() -> None:
    """Route files: try a mapping on one record."""


@mapping.command("test")
@click.argument("route")
@click.option(
    "--record",
    "record_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON file holding one source record (or a list of them).",
)
@click.option("--unmask", is_flag=True, help="Show identity and phone numbers unmasked.")
@click.pass_context
def mapping_test(ctx: click.Context, route: str, record_file: Path, unmask: bool) -> None:
    """Print the payload ROUTE makes of a record, or every field error."""
    gateway = _gateway(ctx)
    compiled = gateway.route(route).compile()
    data = json.loads(record_file.read_text(encoding="utf-8"))
    records = data if isinstance(data, list) else [data]
    failed = 0
    for record in records:
        try:
            prepared = compiled.prepare(record)
            selected, reason = compiled.select(prepared)
            mapped = compiled.map(prepared)
        except MappingError as error:
            failed += 1
            console.print(f"[red]quarantined[/] {error}")
            for field_error in error.errors:
                console.print(
                    f"  field [bold]{field_error.field}[/], rule [bold]{field_error.rule}[/]: {field_error.message}"
                )
            continue
        if not selected:
            console.print(
                f"[yellow]filtered[/] (outside the route's selection: {reason}); the payload would be:"
            )
        output = {"key": mapped.key, "payload": mapped.payload}
        if mapped.followups:
            output["followups"] = mapped.followups
        text = json.dumps(output, ensure_ascii=False, indent=2)
        click.echo(text if unmask else mask_text(text))
    console.print(f"[dim]mapping version {compiled.version}[/]")
    sys.exit(1 if failed else 0)


# --- simulators ---------------------------------------------------------------------------------
@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--motcua-port", default=8081, show_default=True)
@click.option("--dvcqg-port", default=8082, show_default=True)
@click.option("--bhxh-port", default=8083, show_default=True)
@click.option("--dossiers", default=2000, show_default=True, help="Dossiers the one-stop simulator serves.")
@click.option("--seed", default=20250101, show_default=True)
@click.option(
    "--mess-rate", default=0.03, show_default=True, help="Share of deliberately messy source records."
)
@click.option(
    "--fault-rate", default=0.0, show_default=True, help="Share of requests answered with an injected fault."
)
@click.option(
    "--fault-kinds", default="http_500,http_502,http_503,http_429,reset,drop_after_commit", show_default=True
)
@click.option("--latency-ms", default=0.0, show_default=True)
@click.option(
    "--exports/--no-exports",
    default=True,
    show_default=True,
    help="Print the AIRFLOW_CONN_* exports (they carry the simulators' demo secrets: --no-exports when "
    "the output goes to a log file).",
)
def simulators(
    host: str,
    motcua_port: int,
    dvcqg_port: int,
    bhxh_port: int,
    dossiers: int,
    seed: int,
    mess_rate: float,
    fault_rate: float,
    fault_kinds: str,
    latency_ms: float,
    exports: bool,
) -> None:
    """Serve the one-stop, national-portal and BHXH simulators until Ctrl-C."""
    from simulators.cluster import SimulatorCluster
    from simulators.faults import FaultConfig

    faults = FaultConfig.from_dict(
        {"rate": fault_rate, "kinds": fault_kinds, "seed": seed, "latency_ms": latency_ms}
    )
    cluster = SimulatorCluster(
        host=host,
        ports=(motcua_port, dvcqg_port, bhxh_port),
        motcua_settings={"seed": seed, "total": dossiers, "mess_rate": mess_rate},
        faults=faults,
    )
    with cluster:
        console.print(f"motcua  {cluster.motcua.url}   (one-stop system, OAuth2, /pa/dossier/search)")
        console.print(f"dvcqg   {cluster.dvcqg.url}   (national portal, /api/login, /api/service)")
        console.print(f"bhxh    {cluster.bhxh.url}   (BHXH registry, SOAP, /ws/TheBHYT?wsdl)")
        console.print(
            "control API on each: /_sim/health /_sim/faults /_sim/received /_sim/config /_sim/reset"
        )
        if exports:
            console.print("point the gateway at them (simulator-only demo credentials):")
            for name, value in cluster.connection_env().items():
                click.echo(f"export {name}='{value}'")  # plain, never wrapped: meant to be pasted
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopping")


# --- demo ---------------------------------------------------------------------------------------
@click.command()
@click.option("--dossiers", default=2000, show_default=True, help="Dossiers the one-stop simulator serves.")
@click.option("--seed", default=20250101, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def demo(dossiers: int, seed: int, as_json: bool) -> None:
    """Start the three simulators in-process, run every route once, show where the data went."""
    from lienthong.demo import run_demo

    sys.exit(run_demo(console, dossiers=dossiers, seed=seed, as_json=as_json))


# --- dead letters -------------------------------------------------------------------------------
def _dead_filter(route: str | None, since: str | None, ids: tuple[int, ...]):  # noqa: ANN202
    from lienthong.cli import _iso_since
    from lienthong.dead import DeadFilter

    moment = None
    if since:
        from datetime import UTC, datetime

        moment = (
            datetime.fromisoformat(_iso_since(since).replace("+0700", "+07:00"))
            .astimezone(UTC)
            .replace(tzinfo=None)
        )
    return DeadFilter(route=route, since=moment, ids=tuple(ids))


@click.group()
def dead() -> None:
    """Rows a target refused for good or whose retry budget ran out: list, show, replay."""


@dead.command("list")
@click.argument("row_ids", type=int, nargs=-1)
@click.option("--route", help="Only this route.")
@click.option("--since", help="Only rows that died at or after this time (ISO; Vietnam time if no offset).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dead_list(
    ctx: click.Context, row_ids: tuple[int, ...], route: str | None, since: str | None, as_json: bool
) -> None:
    """Dead letters with their last error (oldest first)."""
    from lienthong.dead import find_dead, row_dict

    rows = [row_dict(r) for r in find_dead(_gateway(ctx), _dead_filter(route, since, row_ids))]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(show_header=True)
    for column in ("id", "route", "target.operation", "record", "v", "attempts", "last error"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["route"],
            f"{row['target']}.{row['operation']}",
            row["record_key"],
            str(row["version"]),
            str(row["attempts"]),
            mask_text(row["last_error"] or ""),
        )
    console.print(table)
    console.print(f"{len(rows)} dead letter{'s' if len(rows) != 1 else ''}")


@dead.command("show")
@click.argument("row_id", type=int)
@click.pass_context
def dead_show(ctx: click.Context, row_id: int) -> None:
    """One dead letter: its error, attempts and the payload (identity and phone numbers masked)."""
    from lienthong.dead import find_dead, row_dict

    (row,) = find_dead(_gateway(ctx), _dead_filter(None, None, (row_id,)))
    click.echo(mask_text(json.dumps(row_dict(row, with_payload=True), ensure_ascii=False, indent=2)))


@dead.command("replay")
@click.argument("row_ids", type=int, nargs=-1)
@click.option("--route", help="Every dead letter of this route.")
@click.option("--since", help="Only rows that died at or after this time.")
@click.option("--remap", is_flag=True, help="Map the source records again with the current mapping files.")
@click.option("--note", help="Why (kept with the replay record).")
@click.option("--actor", help="Who asks (default: LIENTHONG_ACTOR or the OS user).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def dead_replay(
    ctx: click.Context,
    row_ids: tuple[int, ...],
    route: str | None,
    since: str | None,
    remap: bool,
    note: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Requeue dead letters (recorded: who, when, which) and deliver them."""
    from lienthong.dead import replay
    from lienthong.workers import default_actor

    if not row_ids and not route and not since:
        raise click.UsageError("name row ids, --route or --since")
    replay_id, summaries = replay(
        _gateway(ctx), _dead_filter(route, since, row_ids), actor or default_actor(), remap=remap, note=note
    )
    if as_json:
        click.echo(
            json.dumps(
                {"replay": replay_id, "runs": [s.to_dict() for s in summaries]},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
        return
    from lienthong.cli_output import print_summary

    console.print(f"replay #{replay_id} recorded")
    for summary in summaries:
        print_summary(console, summary)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def replays(ctx: click.Context, as_json: bool) -> None:
    """Every replay of dead letters and quarantined records: who asked, when, which, how."""
    from lienthong.dead import list_replays

    items = list_replays(_gateway(ctx))
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    table = Table(show_header=True)
    for column in ("#", "kind", "mode", "actor", "requested (UTC)", "route", "count", "note"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item["id"]),
            item["kind"],
            item["mode"],
            item["actor"],
            item["requested_at"],
            item["route"] or "-",
            str(item["count"]),
            item["note"] or "",
        )
    console.print(table)
