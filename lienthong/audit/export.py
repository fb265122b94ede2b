"""Exporting a window of the ledger for an auditor, verifiable offline with the public key only.

JSON lines (``--format jsonl``): a header line ``{"type": "header", "format":
"lienthong-audit-export/1", "first_seq", "last_seq", "count", "prev_hash", "exported_at"}`` — the
``prev_hash`` is the hash of the entry before the window, so the window verifies on its own — then
one ``{"type": "entry", ...}`` line per entry (every column; ``at`` and ``detail`` exactly as
hashed), then one ``{"type": "checkpoint", ...}`` line per signed checkpoint inside the window.

CSV (``--format csv``): the same records, one per row, with a ``kind`` column
(``header`` | ``entry`` | ``checkpoint``); entry columns as in JSON, an empty cell is null (the
ledger never stores empty text); a header's or checkpoint's fields are JSON in the ``detail`` cell.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from lienthong.audit import canonical
from lienthong.audit.checkpoints import Checkpoint, from_table, read_file
from lienthong.clock import utcnow
from lienthong.store.models import LedgerEntry

FORMAT = "lienthong-audit-export/1"
COLUMNS = ["kind", *canonical.FIELDS, "prev_hash", "hash"]


def _window(store: Any, start: datetime | None, end: datetime | None) -> tuple[int, int, int, str]:
    """(first seq, last seq, count, prev hash) of the entries with ``start <= at < end``."""
    query = select(func.min(LedgerEntry.seq), func.max(LedgerEntry.seq), func.count())
    if start is not None:
        query = query.where(LedgerEntry.at >= start)
    if end is not None:
        query = query.where(LedgerEntry.at < end)
    with store.session() as session:
        first, last, count = session.execute(query).one()
        if not count:
            return 0, 0, 0, canonical.GENESIS
        prev = session.execute(select(LedgerEntry.hash).where(LedgerEntry.seq == first - 1)).scalar()
    return int(first), int(last), int(count), prev or canonical.GENESIS


def _entries(store: Any, first: int, last: int) -> Iterator[dict[str, Any]]:
    columns = [getattr(LedgerEntry, name) for name in canonical.FIELDS] + [
        LedgerEntry.prev_hash,
        LedgerEntry.hash,
    ]
    with store.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=20_000).execute(
            select(*columns).where(LedgerEntry.seq.between(first, last)).order_by(LedgerEntry.seq)
        )
        for row in result:
            data = dict(zip([*canonical.FIELDS, "prev_hash", "hash"], row, strict=True))
            data["at"] = canonical.format_at(data["at"])
            yield data


def export(
    store: Any,
    out: IO[str],
    *,
    fmt: str = "jsonl",
    start: datetime | None = None,
    end: datetime | None = None,
    checkpoints_file: Path | None = None,
) -> dict[str, Any]:
    """Write the window to ``out``; returns the header.  A window is a run of consecutive seqs
    (entries are appended in time order)."""
    from lienthong.audit.config import config_for

    first, last, count, prev = _window(store, start, end)
    if count and count != last - first + 1:
        raise ValueError(
            f"the window holds {count} entries for seqs {first}..{last}: the ledger is not in time order"
        )
    header = {
        "type": "header",
        "format": FORMAT,
        "first_seq": first or None,
        "last_seq": last or None,
        "count": count,
        "prev_hash": prev,
        "exported_at": canonical.format_at(utcnow()),
    }
    path = checkpoints_file or config_for(store).checkpoints_file
    seen: set[tuple[int, str, str]] = set()
    checkpoints: list[Checkpoint] = []
    for checkpoint in read_file(path) + from_table(store):
        identity = (checkpoint.seq, checkpoint.hash, checkpoint.signature)
        if count and first <= checkpoint.seq <= last and identity not in seen:
            seen.add(identity)
            checkpoints.append(checkpoint)
    if fmt == "jsonl":
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
        for entry in _entries(store, first, last) if count else ():
            out.write(json.dumps({"type": "entry", **entry}, ensure_ascii=False) + "\n")
        for checkpoint in checkpoints:
            out.write(json.dumps({"type": "checkpoint", **checkpoint.to_dict()}) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerow(["header"] + [""] * (len(COLUMNS) - 4) + [json.dumps(header), "", ""])
        for entry in _entries(store, first, last) if count else ():
            writer.writerow(["entry"] + ["" if entry[c] is None else entry[c] for c in COLUMNS[1:]])
        for checkpoint in checkpoints:
            writer.writerow(
                ["checkpoint"] + [""] * (len(COLUMNS) - 4) + [json.dumps(checkpoint.to_dict()), "", ""]
            )
    else:
        raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
    return header


def read_export(path: Path) -> tuple[dict[str, Any], list[tuple], list[Checkpoint]]:
    """(header, entry rows in the verifier's tuple order, checkpoints) of an export file."""
    with open(path, encoding="utf-8", newline="") as handle:
        first_line = handle.readline()
        handle.seek(0)
        if first_line.startswith("{"):
            return _read_jsonl(handle)
        return _read_csv(handle)


def _entry_tuple(data: dict[str, Any]) -> tuple:
    return tuple(data[name] for name in canonical.FIELDS) + (data["prev_hash"], data["hash"])


def _read_jsonl(handle: IO[str]) -> tuple[dict[str, Any], list[tuple], list[Checkpoint]]:
    header: dict[str, Any] | None = None
    rows: list[tuple] = []
    checkpoints: list[Checkpoint] = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} is not JSON") from None
        kind = data.get("type")
        if kind == "header":
            header = data
        elif kind == "entry":
            rows.append(_entry_tuple(data))
        elif kind == "checkpoint":
            checkpoints.append(Checkpoint.from_dict(data))
        else:
            raise ValueError(f"line {number}: unknown record type {kind!r}")
    if header is None or header.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file (no header)")
    return header, rows, checkpoints


def _read_csv(handle: IO[str]) -> tuple[dict[str, Any], list[tuple], list[Checkpoint]]:
    reader = csv.reader(handle)
    columns = next(reader, None)
    if columns != COLUMNS:
        raise ValueError("not a lienthong audit CSV export (unexpected columns)")
    header: dict[str, Any] | None = None
    rows: list[tuple] = []
    checkpoints: list[Checkpoint] = []
    detail_at = COLUMNS.index("detail")
    for cells in reader:
        kind = cells[0]
        if kind == "header":
            header = json.loads(cells[detail_at])
        elif kind == "checkpoint":
            checkpoints.append(Checkpoint.from_dict(json.loads(cells[detail_at])))
        elif kind == "entry":
            data = {
                name: (value if value != "" else None)
                for name, value in zip(COLUMNS[1:], cells[1:], strict=True)
            }
            data["seq"] = int(data["seq"])
            rows.append(_entry_tuple(data))
        else:
            raise ValueError(f"unknown record kind {kind!r}")
    if header is None or header.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file (no header)")
    return header, rows, checkpoints
