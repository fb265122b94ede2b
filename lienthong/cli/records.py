"""CLI command groups beyond ``run``/``resync``/``status``: quarantine, mapping, simulators, demo."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from lienthong.cli.common import gateway_from as _gateway
from lienthong.cli.common import iso_since
from lienthong.masking import mask_text

console = Console(highlight=False)


# --- quarantine ---------------------------------------------------------------------------------
@click.group()
def quarantine() -> None:
    """Records that failed mapping or validation: list, show, replay after a fix."""


@quarantine.command("list")
@click.option("--route", help="Only this route.")
@click.option("--all", "show_all", is_flag=True, help="Include entries already replayed or superseded.")
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
@click.option("--note", help="Why (kept with the replay record).")
@click.option("--actor", help="Who asks (default: LIENTHONG_ACTOR or the OS user).")
@click.option(
    "--force-stale",
    is_flag=True,
    help="Map an entry's version even though its record has a newer one (recorded: says what it overwrites).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quarantine_replay(
    ctx: click.Context,
    entry_ids: tuple[int, ...],
    route: str | None,
    note: str | None,
    actor: str | None,
    force_stale: bool,
    as_json: bool,
) -> None:
    """Map quarantined records again with the current mapping files and deliver what now passes.

    Refused for an entry whose record has a newer version (corrected at the source): the message names
    it; --force-stale maps the old version anyway."""
    from lienthong.quarantine import replay

    if not entry_ids and not route:
        raise click.UsageError("name entry ids or --route")
    gateway = _gateway(ctx)
    summaries = replay(gateway, list(entry_ids), route, actor, note=note, force_stale=force_stale)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in summaries], ensure_ascii=False, indent=2, default=str))
        return
    from lienthong.cli.output import print_summary

    for summary in summaries:
        print_summary(console, summary)


# --- dead letters -------------------------------------------------------------------------------
def _dead_filter(route: str | None, since: str | None, ids: tuple[int, ...]):  # noqa: ANN202
    from lienthong.dead import DeadFilter

    moment = None
    if since:
        from datetime import UTC, datetime

        moment = (
            datetime.fromisoformat(iso_since(since).replace("+0700", "+07:00"))
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
@click.option("--json", "as_json", is_flag=True, help="Print the dead letter as one JSON document.")
@click.pass_context
def dead_show(ctx: click.Context, row_id: int, as_json: bool) -> None:
    """One dead letter: its error, attempts and the payload (identity and phone numbers masked)."""
    from lienthong.dead import find_dead, row_dict

    rows = find_dead(_gateway(ctx), _dead_filter(None, None, (row_id,)))
    if not rows:
        raise click.ClickException(f"no dead letter {row_id} (lienthong dead list shows them)")
    data = row_dict(rows[0], with_payload=True)
    if as_json:
        click.echo(mask_text(json.dumps(data, ensure_ascii=False, indent=2)))
        return
    console.print(
        f"[bold]dead letter {data['id']}[/] · route {data['route']} · {data['target']}.{data['operation']}"
        f" · record {data['record_key']} v{data['version']} · {data['attempts']} attempt(s)"
    )
    console.print(f"last error: {mask_text(data['last_error'] or '')}", markup=False)
    console.print(f"mapping version {data['mapping_version']} · updated {data['updated_at']} UTC")
    console.print("payload (identity and phone numbers masked):")
    click.echo(mask_text(json.dumps(data["payload"], ensure_ascii=False, indent=2)))


@dead.command("replay")
@click.argument("row_ids", type=int, nargs=-1)
@click.option("--route", help="Every dead letter of this route.")
@click.option("--since", help="Only rows that died at or after this time.")
@click.option("--remap", is_flag=True, help="Map the source records again with the current mapping files.")
@click.option("--note", help="Why (kept with the replay record).")
@click.option("--actor", help="Who asks (default: LIENTHONG_ACTOR or the OS user).")
@click.option(
    "--force-stale",
    is_flag=True,
    help="Send a row even though a newer version of its record was acknowledged (recorded: says what it overwrites).",
)
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
    force_stale: bool,
    as_json: bool,
) -> None:
    """Requeue dead letters (recorded: who, when, which) and deliver them.

    Refused for a row older than a version of its record the target already acknowledged (the message
    names it); --force-stale sends it anyway, as a new version after the acknowledged one."""
    from lienthong.dead import replay
    from lienthong.workers import default_actor

    if not row_ids and not route and not since:
        raise click.UsageError("name row ids, --route or --since")
    replay_id, summaries = replay(
        _gateway(ctx),
        _dead_filter(route, since, row_ids),
        actor or default_actor(),
        remap=remap,
        note=note,
        force_stale=force_stale,
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
    from lienthong.cli.output import print_summary

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
