"""``lienthong audit``: what auditors run: verify, show a dossier's life, export, checkpoint, purge.

Exit codes: 0 intact / done; 1 the ledger (or the export) failed verification, naming the first
broken entry and why.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from lienthong.cli.common import gateway_from as _gateway
from lienthong.cli.common import iso_since

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _actor(actor: str | None) -> str:
    from lienthong.workers import default_actor

    return actor or default_actor()


@click.group()
def audit() -> None:
    """The audit ledger: verify it, show a dossier's life, export it for auditors, checkpoint, purge."""


class _Bar:
    """A progress bar on a terminal for long verifications (nothing otherwise)."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.progress = None
        if enabled and err_console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.progress = Progress(
                "verifying", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
            )
            self.task = self.progress.add_task("verify", total=total)

    def __enter__(self) -> _Bar:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def __call__(self, done: int) -> None:
        if self.progress:
            self.progress.update(self.task, completed=done)


def _print_result(result, as_json: bool, what: str) -> None:  # noqa: ANN001
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    if result.ok:
        console.print(
            f"[green]intact[/] {what}: {result.entries} entries"
            + (f" (seq {result.first_seq}..{result.last_seq})" if result.entries else "")
            + f", {result.checkpoints} checkpoint(s) signed by pinned key(s) matched"
            + (f", unsigned tail {result.unsigned_tail} entries" if result.unsigned_tail else "")
            + f", {result.seconds:.2f} s"
        )
        for fp in result.keys:
            console.print(f"  signed by {fp}")
    else:
        where = f" at entry seq {result.broken_seq}" if result.broken_seq is not None else ""
        console.print(f"[red]BROKEN[/] {what}{where} ({result.reason}): {result.problem}")


@audit.command("verify")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Verify this export file offline instead of the store.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An audit signing public key (PEM); repeat for rotated keys; default: the store's audit-signing.pub.",
)
@click.option(
    "--pinned-keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File of trusted key fingerprints (sha256:…), one a line; default: LIENTHONG_AUDIT_PINNED_KEYS "
    "and LIENTHONG_AUDIT_PINNED_KEYS_FILE.",
)
@click.option(
    "--checkpoints",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signed checkpoint file (default: <data dir>/audit/checkpoints.jsonl).",
)
@click.option(
    "--strict/--lenient",
    default=True,
    show_default=True,
    help="Strict: an unsigned tail beyond the tolerance fails; lenient: it is a warning.",
)
@click.option("--tail-entries", type=click.IntRange(min=0), help="Unsigned-tail tolerance in entries.")
@click.option("--tail-seconds", type=click.FloatRange(min=0), help="Unsigned-tail tolerance in seconds.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-progress", is_flag=True)
@click.pass_context
def verify(
    ctx: click.Context,
    export_file: Path | None,
    public_keys: tuple[Path, ...],
    pinned_keys: Path | None,
    checkpoints: Path | None,
    strict: bool,
    tail_entries: int | None,
    tail_seconds: float | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Recompute the hash chain and check it against checkpoints signed by a pinned key (exit 1 when
    broken, or when nothing trusted certifies it)."""
    from lienthong.audit.config import Tolerance

    default = Tolerance.from_env()
    tolerance = Tolerance(
        default.entries if tail_entries is None else tail_entries,
        default.seconds if tail_seconds is None else tail_seconds,
    )
    if export_file is not None:
        from lienthong.audit.verify import verify_export

        if not public_keys:
            raise click.UsageError("--export needs --public-key")
        with _Bar(None, not (no_progress or as_json)) as bar:
            result = verify_export(
                export_file,
                list(public_keys),
                progress=bar,
                pinned_file=pinned_keys,
                strict=strict,
                tolerance=tolerance,
            )
        _print_result(result, as_json, f"export {export_file.name}")
        sys.exit(0 if result.ok else 1)
    from lienthong.audit.chain import head
    from lienthong.audit.verify import verify_ledger

    gateway = _gateway(ctx)
    total = head(gateway.store)[0]
    with _Bar(total, not (no_progress or as_json)) as bar:
        result = verify_ledger(
            gateway.store,
            checkpoints_file=checkpoints,
            public_key_file=public_keys[0] if public_keys else None,
            public_key_files=public_keys[1:],
            pinned_file=pinned_keys,
            strict=strict,
            tolerance=tolerance,
            progress=bar,
        )
    _print_result(result, as_json, "ledger")
    sys.exit(0 if result.ok else 1)


@audit.command("fingerprint")
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A public (or private) key PEM; default: the store's audit-signing.pub.",
)
@click.option("--pin", is_flag=True, help="Also add it to the pins file (LIENTHONG_AUDIT_PINNED_KEYS_FILE).")
@click.pass_context
def fingerprint_cmd(ctx: click.Context, public_key: Path | None, pin: bool) -> None:
    """Print the fingerprint of the audit signing key, to pin it where auditors configure trust."""
    from lienthong.audit import pins
    from lienthong.audit.checkpoints import load_public_key

    if public_key is None:
        from lienthong.audit.config import config_for

        public_key = config_for(_gateway(ctx).store).public_key_file
        if not public_key.exists():
            raise click.UsageError(f"no public key at {public_key}: give --public-key")
    fp = pins.fingerprint(load_public_key(public_key))
    click.echo(fp)
    if pin:
        err_console.print(f"pinned in {pins.pin(fp)}")
    else:
        err_console.print(f"to trust it: export {pins.ENV_PINNED}={fp}   (or add it to a pins file)")


@audit.command("show")
@click.argument("dossier")
@click.option("--unmask", is_flag=True, help="Show personal data (recorded in the ledger: who, when, which).")
@click.option("--actor", help="Who asks (default: LIENTHONG_ACTOR or the OS user).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, dossier: str, unmask: bool, actor: str | None, as_json: bool) -> None:
    """The whole life of DOSSIER (its code), in order: versions, mapping, payloads, attempts, answers."""
    from lienthong.audit import keyring
    from lienthong.audit.lineage import lineage

    try:
        with keyring.read_only():  # showing never generates archive.keys
            store = _gateway(ctx).store
    except keyring.KeyringError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
    steps = lineage(store, dossier, unmask=unmask, actor=_actor(actor))
    if as_json:
        click.echo(json.dumps(steps, ensure_ascii=False, indent=2, default=str))
        return
    if not steps:
        console.print(f"no ledger entries for {dossier}")
        sys.exit(1)
    console.print(
        f"[bold]{dossier}[/]: {len(steps)} ledger entries" + (" (UNMASKED; recorded)" if unmask else "")
    )
    for step in steps:
        detail = step["detail"]
        where = f" → {step['target']}" if step["target"] else ""
        line = f"#{step['seq']} {step['at']} [bold]{step['event']}[/]{where} ({step['outcome'] or '-'})"
        # Actors and routes are text someone typed: escaped, so that they cannot restyle the view.
        line += f" by {escape(step['actor'] or '-')}" + (
            f" (authenticated: {escape(step['authenticated'])})" if step.get("authenticated") else ""
        )
        if step.get("other_route"):
            line += " [yellow]" + escape(f"[route {step['route']}]") + "[/]"
        extras = []
        for name in (
            "content_digest",
            "request_digest",
            "response_digest",
            "calls",
            "millis",
            "mode",
            "note",
            "reason",
            "expected_digest",
            "found_digest",
        ):
            if detail.get(name) is not None:
                extras.append(f"{name}={detail[name]}")
        if step["mapping_version"] and step["event"] in ("mapped", "quarantined", "unchanged", "filtered"):
            extras.append(f"mapping={step['mapping_version'][:19]}")
        if detail.get("errors"):
            extras.append("errors=" + ", ".join(f"{e['field']}:{e['rule']}" for e in detail["errors"]))
        if detail.get("error"):
            extras.append(f"error={detail['error']}")
        console.print(line, soft_wrap=True)
        if extras:
            console.print("    " + " · ".join(str(e) for e in extras))
        for row in detail.get("rows", ()):
            console.print(
                f"    queued row {row['row_id']} {row['target']}.{row['operation']} v{row['version']} "
                f"{row['payload_digest']} ({row['state']})"
            )
            if row.get("payload_problem"):
                console.print(f"    [red]payload NOT SHOWN:[/] {row['payload_problem']}")
            elif row.get("payload") is not None:
                console.print("    payload: " + json.dumps(row["payload"], ensure_ascii=False))
        for name, label in (("request", "request"), ("response", "answer")):
            if step.get(f"{name}_problem"):
                console.print(f"    [red]{label} NOT SHOWN:[/] {step[f'{name}_problem']}")
        if step.get("response") is not None:
            console.print("    answer: " + json.dumps(step["response"], ensure_ascii=False))


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None

    try:
        text = iso_since(value)
    except click.BadParameter:
        raise click.BadParameter(f"{value!r} is not an ISO date-time", param_hint=name) from None
    from datetime import UTC

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.000%z").astimezone(UTC).replace(tzinfo=None)


@audit.command("export")
@click.option("--from", "start", help="Entries at or after this time (ISO; Vietnam time if no offset).")
@click.option("--to", "end", help="Entries before this time.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="One JSON entry per line, or CSV.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
@click.pass_context
def export_cmd(ctx: click.Context, start: str | None, end: str | None, fmt: str, output: Path | None) -> None:
    """Entries of a time window plus the signed checkpoints covering them (verifiable offline)."""
    from lienthong.audit.export import export

    store = _gateway(ctx).store
    with open(output, "w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout) as out:
        header = export(store, out, fmt=fmt, start=_moment(start, "--from"), end=_moment(end, "--to"))
    if output:
        err_console.print(
            f"exported {header['count']} entries (seq {header['first_seq']}..{header['last_seq']}) to {output}"
        )


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def checkpoint(ctx: click.Context, as_json: bool) -> None:
    """Sign the chain head now and append it to the checkpoint file."""
    from lienthong.audit.checkpoints import make_checkpoint
    from lienthong.audit.config import config_for

    store = _gateway(ctx).store
    config = config_for(store)
    made = make_checkpoint(store, config)
    if as_json:
        click.echo(json.dumps(made.to_dict() if made else None))
    elif made is None:
        console.print("the ledger is empty: nothing to sign")
    else:
        from lienthong.audit.checkpoints import load_public_key
        from lienthong.audit.pins import fingerprint

        console.print(
            f"checkpoint seq {made.seq} hash {made.hash[:16]}… signed by key "
            f"{fingerprint(load_public_key(config.public_key_file))}; appended to {config.checkpoints_file}"
        )


@audit.command("purge")
@click.option("--older-than", "days", type=float, help="Days (default: LIENTHONG_RETENTION_DAYS).")
@click.option("--actor", help="Who asks (default: LIENTHONG_ACTOR or the OS user).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def purge(ctx: click.Context, days: float | None, actor: str | None, as_json: bool) -> None:
    """Delete archived bodies, staged bodies and settled payloads older than DAYS (digests stay)."""
    from lienthong.audit.config import config_for
    from lienthong.audit.retention import purge as do_purge

    store = _gateway(ctx).store
    days = days if days is not None else config_for(store).retention_days
    if days is None:
        raise click.UsageError("give --older-than DAYS (or set LIENTHONG_RETENTION_DAYS)")
    counts = do_purge(store, days, _actor(actor))
    if as_json:
        click.echo(json.dumps(counts))
    else:
        console.print(
            f"purged before {counts['cutoff']} UTC: {counts['archived_bodies']} archived bodies, "
            f"{counts['staged_bodies']} staged record bodies, {counts['outbox_payloads']} settled payloads"
        )


@audit.command("rotate-key")
@click.option("--batch", default=1000, show_default=True, help="Rows re-sealed per transaction.")
@click.pass_context
def rotate_key(ctx: click.Context, batch: int) -> None:
    """Re-encrypt every sealed value under the current key (the first of LIENTHONG_ARCHIVE_KEYS).
    Put the new key first and keep the old ones until this has run."""
    from lienthong.audit.rekey import rekey

    counts = rekey(_gateway(ctx).store, batch=batch)
    console.print(", ".join(f"{name}: {n} re-encrypted" for name, n in counts.items()))
