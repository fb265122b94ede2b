"""CLI tools beside the records: ``mapping test``, ``simulators`` and ``demo``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from lienthong.cli.common import load_route_from, settings_from
from lienthong.errors import ConfigError, MappingError
from lienthong.masking import mask_text

console = Console(highlight=False)


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
    """Print the payload ROUTE makes of a record, or every field error (needs no store)."""
    compiled = load_route_from(settings_from(ctx), route).compile()
    try:
        data = json.loads(record_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise click.BadParameter(
            f"{record_file} is not a UTF-8 JSON file{where}", param_hint="--record"
        ) from None
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
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address the three simulators listen on."
)
@click.option(
    "--motcua-port", default=8081, show_default=True, help="Port of the one-stop (motcua) simulator."
)
@click.option("--dvcqg-port", default=8082, show_default=True, help="Port of the national-portal simulator.")
@click.option("--bhxh-port", default=8083, show_default=True, help="Port of the BHXH registry simulator.")
@click.option("--dossiers", default=2000, show_default=True, help="Dossiers the one-stop simulator serves.")
@click.option(
    "--seed", default=20250101, show_default=True, help="Seed of the generated dossiers and injected faults."
)
@click.option(
    "--mess-rate", default=0.03, show_default=True, help="Share of deliberately messy source records."
)
@click.option(
    "--fault-rate", default=0.0, show_default=True, help="Share of requests answered with an injected fault."
)
@click.option(
    "--fault-kinds",
    default="http_500,http_502,http_503,http_429,reset,drop_after_commit",
    show_default=True,
    help="Comma-separated faults to draw from when --fault-rate injects one.",
)
@click.option("--latency-ms", default=0.0, show_default=True, help="Delay added to every answer (ms).")
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
    from simulators.cluster import PortUnavailable, SimulatorCluster
    from simulators.faults import FaultConfig

    faults = FaultConfig.from_dict(
        {"rate": fault_rate, "kinds": fault_kinds, "seed": seed, "latency_ms": latency_ms}
    )
    try:
        cluster = SimulatorCluster(
            host=host,
            ports=(motcua_port, dvcqg_port, bhxh_port),
            motcua_settings={"seed": seed, "total": dossiers, "mess_rate": mess_rate},
            faults=faults,
        )
    except PortUnavailable as exc:
        raise ConfigError(str(exc)) from exc
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
@click.option("--seed", default=20250101, show_default=True, help="Seed of the generated dossiers.")
@click.option("--json", "as_json", is_flag=True, help="Print where the data went as JSON (for scripts).")
def demo(dossiers: int, seed: int, as_json: bool) -> None:
    """Start the three simulators in-process, run every route once, show where the data went."""
    from lienthong.demo import run_demo

    sys.exit(run_demo(console, dossiers=dossiers, seed=seed, as_json=as_json))
