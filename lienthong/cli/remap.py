"""``lienthong remap``: bring records already delivered up to the current mapping (lienthong.remap)."""

from __future__ import annotations

import json

import click
from rich.console import Console

from lienthong.cli.common import gateway_from, iso_since

console = Console(highlight=False)


@click.command()
@click.argument("route")
@click.option(
    "--since", help="Only records the source updated at or after this time (ISO; Vietnam time if no offset)."
)
@click.option("--key", "keys", multiple=True, help="Only this record key (the source's; repeat for several).")
@click.option(
    "--dry-run", is_flag=True, help="Count and show (masked) what would change; queue and send nothing."
)
@click.option("--actor", help="Who asks (default: LIENTHONG_ACTOR or the OS user).")
@click.option("--no-deliver", is_flag=True, help="Queue the new versions but leave them to the next run.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@click.pass_context
def remap(
    ctx: click.Context,
    route: str,
    since: str | None,
    keys: tuple[str, ...],
    dry_run: bool,
    actor: str | None,
    no_deliver: bool,
    as_json: bool,
) -> None:
    """Map ROUTE's delivered records again with the current mapping files and send those whose payload
    changed (new versions, after what is live, through the outbox and the ledger).

    Records the target has not acknowledged yet, quarantined and filtered ones are left alone (the
    run, `dead replay --remap` and `quarantine replay` are theirs). For a target without an update
    (on_change: review, e.g. the BHXH registration) the new versions go to review, not to the target."""
    from datetime import datetime

    from lienthong.remap import Selection, parse_keys
    from lienthong.remap import remap as do_remap

    moment = datetime.fromisoformat(iso_since(since).replace("+0700", "+07:00")) if since else None
    selection = Selection(route=route, since=moment, keys=parse_keys(keys))
    result = do_remap(gateway_from(ctx), selection, dry_run=dry_run, actor=actor, deliver=not no_deliver)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    data = result.to_dict()
    verb = "would change" if dry_run else "changed"
    console.print(
        f"route {result.route} · mapping {result.mapping_version[:19]}… · {result.checked} record(s) checked: "
        f"[bold]{len(result.changed)} {verb}[/] (payload differs from the last acknowledged)"
    )
    for example in data["examples"]:
        console.print(f"  {example['record_key']} ({', '.join(example['outputs'])})")
        for name, (old, new) in example["diff"].items():
            console.print(
                f"    {name}: {json.dumps(old, ensure_ascii=False)} → {json.dumps(new, ensure_ascii=False)}"
            )
    if len(result.changed) > len(data["examples"]):
        console.print(f"  … and {len(result.changed) - len(data['examples'])} more")
    console.print(
        f"left alone: {result.not_delivered} not acknowledged yet, {len(result.failing)} failing the current "
        f"mapping (they would be quarantined), {result.now_filtered} now outside the route's selection"
    )
    if not dry_run:
        console.print(f"queued {result.queued_rows} outbox row(s), {result.review_rows} to review")
        if result.run is not None:
            from lienthong.cli.output import print_summary

            print_summary(console, result.run)
        if result.left_undelivered:
            console.print(f"[yellow]{result.left_undelivered} remapped record(s) not acknowledged yet[/]")
