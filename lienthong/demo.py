"""``lienthong demo``: the whole gateway on one machine, in one process, in under a minute.

Starts the three simulators on free loopback ports, points the connections at them, runs every route
once against a fresh SQLite store under ``.lienthong/demo/``, and shows what each target now holds.
The one-stop simulator serves its usual share of messy records, so the demo also shows quarantine.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from lienthong.masking import mask_text
from lienthong.settings import Settings

ROUTE_ORDER = ("catalogue_sync", "dossier_sync", "birth_bhyt")


def run_demo(console: Console, *, dossiers: int, seed: int, as_json: bool = False) -> int:
    from lienthong.cli.output import print_summary
    from lienthong.pipeline.runner import Gateway
    from simulators.cluster import SimulatorCluster

    settings = Settings.from_env()
    demo_dir = settings.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    settings = replace(settings, database_url=f"sqlite:///{demo_dir / 'demo.db'}")

    with SimulatorCluster(motcua_settings={"seed": seed, "total": dossiers}) as cluster:
        os.environ.update(cluster.connection_env())
        gateway = Gateway(settings)
        routes = [r for r in ROUTE_ORDER if r in gateway.routes()] + sorted(
            set(gateway.routes()) - set(ROUTE_ORDER)
        )
        if not as_json:
            console.print(
                f"[bold]Liên thông demo[/] · {dossiers} dossiers (seed {seed}) · store {gateway.store.describe()}"
            )
            console.print(
                f"simulators: one-stop {cluster.motcua.url} · portal {cluster.dvcqg.url} · BHXH {cluster.bhxh.url}\n"
            )
        summaries = []
        for name in routes:
            summary = gateway.run(name, actor="demo", wait_for_retries=10)
            summaries.append(summary)
            if not as_json:
                print_summary(console, summary)
                console.print()
        received = {
            "dvcqg": _received(cluster.dvcqg.url),
            "bhxh": _received(cluster.bhxh.url),
        }
        gateway.store.dispose()

    problems = _problems(summaries, received)
    if as_json:
        print(
            json.dumps(
                {"runs": [s.to_dict() for s in summaries], "targets": _where(received), "problems": problems},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    else:
        _print_where(console, received)
        console.print(
            f"\ninspect the demo store: [bold]lienthong --database-url {settings.database_url} status[/]"
            f" (or quarantine list, quarantine show ID)"
        )
        for problem in problems:
            console.print(f"[red]demo problem:[/] {problem}")
        if not problems:
            console.print(
                "[green]demo finished: every route delivered, every record and outbox row accounted for.[/]"
            )
    return 1 if problems else 0


def _received(url: str) -> dict[str, Any]:
    return requests.get(f"{url}/_sim/received", timeout=30).json()


def _where(received: dict[str, Any]) -> dict[str, Any]:
    portal = received["dvcqg"]
    registry = received["bhxh"]
    return {
        "dvcqg_dossiers": len(portal.get("dossiers", {})),
        "dvcqg_progress_records": sum(len(v) for v in portal.get("progress", {}).values()),
        "dvcqg_catalogue_entries": len(portal.get("catalogue", {})),
        "bhxh_cards": len(registry.get("registrations", {})),
    }


def _print_where(console: Console, received: dict[str, Any]) -> None:
    where = _where(received)
    table = Table(title="where the data went", title_justify="left")
    table.add_column("target")
    table.add_column("holds", justify="right")
    table.add_row("national portal: dossiers (DongBoHoSoMC)", str(where["dvcqg_dossiers"]))
    table.add_row(
        "national portal: progress records (CapNhatTienDoHoSoMC)", str(where["dvcqg_progress_records"])
    )
    table.add_row("national portal: online services (DongBoDVCTT)", str(where["dvcqg_catalogue_entries"]))
    table.add_row("BHXH registry: child health-insurance cards", str(where["bhxh_cards"]))
    console.print(table)
    dossiers = received["dvcqg"].get("dossiers", {})
    if dossiers:
        code, entry = next(iter(dossiers.items()))
        console.print(f"a dossier as the portal holds it ({code}; identity and phone numbers masked):")
        console.print(mask_text(json.dumps(entry.get("data"), ensure_ascii=False, indent=2)))
    cards = received["bhxh"].get("registrations", {})
    if cards:
        key, entry = next(iter(cards.items()))
        console.print(f"a card issued by the registry for linked dossier {key} (masked):")
        console.print(mask_text(json.dumps(entry.get("card"), ensure_ascii=False)))


def _problems(summaries, received: dict[str, Any]) -> list[str]:  # noqa: ANN001
    problems = []
    for summary in summaries:
        problems.extend(f"{summary.route}: {p}" for p in summary.checks())
        if not summary.rows.get("acknowledged"):
            problems.append(f"{summary.route}: nothing was delivered")
    if not any(s.transform.quarantined for s in summaries):
        problems.append("no record was quarantined: the one-stop simulator's mess did not reach the gateway")
    return problems
