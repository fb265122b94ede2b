"""One Airflow pool per target, ``lienthong_<target>``: it caps the route DAGs' concurrent deliver tasks
against that target (every route that delivers to the portal shares the portal's pool).

Sizes come from ``airflow: {pool_slots: N}`` in ``mappings/targets/<target>.yaml`` (default 4).  Create
or update the pools with ``lienthong airflow pools --apply`` / ``python -m lienthong.airflow.pools
--apply`` (runs ``airflow pools set``), or write the file that ``airflow pools import`` reads with
``--json FILE``; a cluster script calls :func:`pool_specs`.  A deliver task whose pool does not exist is
never scheduled, so create them before the first run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from lienthong.airflow.settings import mappings_dir, pool_name, read_routes, target_pool_slots


@dataclass(frozen=True)
class PoolSpec:
    name: str
    slots: int
    description: str


def pool_specs(base: Path | None = None) -> list[PoolSpec]:
    """A pool for every target file and every target a route delivers to."""
    base = base or mappings_dir()
    routes = read_routes(base)
    targets = {path.stem for path in (base / "targets").glob("*.yaml")} | {r.target for r in routes}
    specs = []
    for target in sorted(targets):
        users = ", ".join(sorted(r.route for r in routes if r.target == target)) or "no route yet"
        specs.append(
            PoolSpec(
                pool_name(target),
                target_pool_slots(target, base),
                f"Liên thông deliveries to {target} ({users})",
            )
        )
    return specs


def pools_import_document(specs: list[PoolSpec]) -> dict[str, dict[str, object]]:
    """The JSON ``airflow pools import FILE`` reads."""
    return {
        s.name: {"slots": s.slots, "description": s.description, "include_deferred": False} for s in specs
    }


def airflow_command() -> str:
    """The ``airflow`` of this virtualenv: ``.venv/bin/python -m lienthong.airflow.pools --apply`` works
    without activating the virtualenv (its bin folder is not on PATH then)."""
    beside = Path(sys.executable).with_name("airflow")
    if beside.exists():
        return str(beside)
    found = shutil.which("airflow")
    if found is None:
        raise click.ClickException(
            "no `airflow` command beside this Python nor on PATH: install the `airflow` extra "
            "(make venv) or pass --airflow PATH"
        )
    return found


@click.group("airflow")
def airflow_group() -> None:
    """Airflow helpers (the route DAGs live in dags/)."""


@airflow_group.command("pools")
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="write an import file"
)
@click.option("--apply", is_flag=True, help="create or update the pools with `airflow pools set`")
@click.option(
    "--airflow",
    "airflow_bin",
    default=None,
    help="the airflow command (default: the one installed beside this Python, else `airflow` on PATH)",
)
def pools_command(json_file: Path | None, apply: bool, airflow_bin: str | None) -> None:
    """Show (or create) one pool per target, sized by the target files."""
    airflow_bin = airflow_bin or airflow_command()
    specs = pool_specs()
    for spec in specs:
        click.echo(f"{spec.name}\t{spec.slots}\t{spec.description}")
    if json_file is not None:
        json_file.write_text(
            json.dumps(pools_import_document(specs), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        click.echo(f"wrote {json_file}: airflow pools import {json_file}")
    if apply:
        for spec in specs:
            done = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                [airflow_bin, "pools", "set", spec.name, str(spec.slots), spec.description],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise click.ClickException(
                    f"airflow pools set {spec.name} failed: {done.stderr.strip()[-500:]}"
                )
            click.echo(f"set {spec.name} = {spec.slots}")


if __name__ == "__main__":
    sys.exit(airflow_group(["pools", *sys.argv[1:]]))
