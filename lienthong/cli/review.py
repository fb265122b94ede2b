"""``lienthong tombstones`` and ``lienthong review``: what waits for a person, and their decisions.

Listings read the store (never create it); ``resolve`` records who (``--actor`` and the OS user),
when, why (``--note``) and the decision, in the store and in the audit ledger.  The work is done by
``lienthong.tombstones`` and ``lienthong.review``; this module only parses and prints.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from lienthong.cli.common import console, gateway_from

#: Columns an operator copies into the next command: never split across lines.
NO_WRAP = ("id", "record", "state")
STATE_HELP = "open (waiting for a person, the default), resolved, or all."


def _actor(actor: str | None) -> str:
    from lienthong.workers import default_actor

    return actor or default_actor()


def _print_json(items: Any) -> None:
    click.echo(json.dumps(items, ensure_ascii=False, indent=2))


def _resolution_text(item: dict[str, Any]) -> str:
    res = item.get("resolution")
    if not res:
        return ""
    return (
        f"{res['decision']} by {res['actor']} ({res['os_user'] or '?'}) {res['resolved_at']}: {res['note']}"
    )


def _resolve_options(decisions: tuple[str, ...]):  # noqa: ANN202
    def decorate(func):  # noqa: ANN001, ANN202
        func = click.option("--json", "as_json", is_flag=True, help="Print the resolved items as JSON.")(func)
        func = click.option("--actor", help="Who decides (default: LIENTHONG_ACTOR or the OS user).")(func)
        func = click.option(
            "--note", required=True, help="Why: kept with the resolution and in the audit ledger."
        )(func)
        func = click.option(
            "--decision",
            type=click.Choice(decisions),
            required=True,
            help="What to do: " + ", ".join(decisions) + ".",
        )(func)
        return click.argument("ids", type=int, nargs=-1, required=True)(func)

    return decorate


# --- tombstones ---------------------------------------------------------------------------------
@click.group()
def tombstones() -> None:
    """Records deleted at the source (raised by a resync): list them, resolve them."""


@tombstones.command("list")
@click.option("--route", help="Only this route.")
@click.option("--state", type=click.Choice(["open", "resolved", "all"]), default="open", help=STATE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the tombstones as JSON (for scripts).")
@click.pass_context
def tombstones_list(ctx: click.Context, route: str | None, state: str, as_json: bool) -> None:
    """Tombstones with the reason and, once resolved, who decided what and why."""
    from lienthong.tombstones import list_tombstones

    items = list_tombstones(gateway_from(ctx).store, route=route, state=state)
    if as_json:
        _print_json(items)
        return
    table = Table(show_header=True)
    for column in ("id", "route", "record", "state", "detected (UTC)", "reason", "resolution"):
        table.add_column(column, no_wrap=column in NO_WRAP)
    for item in items:
        table.add_row(
            str(item["id"]),
            item["route"],
            item["record_key"],
            item["state"],
            item["detected_at"].replace("T", " "),
            item["reason"],
            _resolution_text(item),
        )
    console.print(table)
    console.print(f"{len(items)} tombstone{'s' if len(items) != 1 else ''} ({state})")


@tombstones.command("resolve")
@_resolve_options(("acknowledge",))
@click.pass_context
def tombstones_resolve(
    ctx: click.Context, ids: tuple[int, ...], decision: str, note: str, actor: str | None, as_json: bool
) -> None:
    """Resolve tombstones IDS: acknowledge = the deletion is accepted, the target keeps the record."""
    from lienthong.tombstones import resolve_tombstones

    done = resolve_tombstones(
        gateway_from(ctx).store, list(ids), decision=decision, actor=_actor(actor), note=note
    )
    _print_done(done, "tombstone", as_json)


# --- review -------------------------------------------------------------------------------------
@click.group()
def review() -> None:
    """Outbox rows a target cannot take without a person (a correction with no update): list, resolve."""


@review.command("list")
@click.option("--route", help="Only this route.")
@click.option("--state", type=click.Choice(["open", "resolved", "all"]), default="open", help=STATE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON (for scripts).")
@click.pass_context
def review_list(ctx: click.Context, route: str | None, state: str, as_json: bool) -> None:
    """Rows in review with why they need a person and, once resolved, who decided what and why."""
    from lienthong.review import list_review

    items = list_review(gateway_from(ctx).store, route=route, state=state)
    if as_json:
        _print_json(items)
        return
    table = Table(show_header=True)
    for column in ("id", "route", "target.operation", "record", "v", "state", "reason / resolution"):
        table.add_column(column, no_wrap=column in NO_WRAP)
    for item in items:
        table.add_row(
            str(item["id"]),
            item["route"],
            f"{item['target']}.{item['operation']}",
            item["record_key"],
            str(item["version"]),
            item["state"],
            _resolution_text(item) or (item["reason"] or ""),
        )
    console.print(table)
    console.print(f"{len(items)} row{'s' if len(items) != 1 else ''} ({state})")


@review.command("resolve")
@_resolve_options(("resend", "dismiss"))
@click.pass_context
def review_resolve(
    ctx: click.Context, ids: tuple[int, ...], decision: str, note: str, actor: str | None, as_json: bool
) -> None:
    """Resolve review rows IDS: resend = back to pending (the next run or deliver sends it);
    dismiss = closed as superseded."""
    from lienthong.review import resolve_review

    done = resolve_review(
        gateway_from(ctx).store, list(ids), decision=decision, actor=_actor(actor), note=note
    )
    _print_done(done, "review row", as_json)


def _print_done(done: list[dict[str, Any]], what: str, as_json: bool) -> None:
    if as_json:
        _print_json(done)
        return
    for item in done:
        res = item["resolution"]
        console.print(
            f"{what} {item['id']} ({item['route']} · {item['record_key']}): {res['decision']} → "
            f"{item['state']}, recorded as resolution #{res['id']} by {res['actor']}"
        )
