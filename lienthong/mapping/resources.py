"""Files a route refers to (``@codelists/…``, ``@schemas/…``): resolved, read once, and remembered.

Every file read through :class:`Resources` is recorded with its bytes, so the compiled route's version
(``sha256:`` of the YAML and of each referenced file) describes exactly the data the mapping used: edit
a code list and the version changes, and every delivery records which one it was mapped with.

References are relative to the mappings directory and may not leave it (``@../secrets`` is refused), so
a route can only depend on files that are versioned with it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lienthong.errors import ConfigError

ENV_VAR = "LIENTHONG_MAPPINGS"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


def default_mappings_dir() -> Path:
    """``$LIENTHONG_MAPPINGS``, else ``./mappings`` when the working directory has one, else the
    ``mappings/`` folder of the checkout this package was loaded from (same order as ``Settings``)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).resolve()
    here = Path.cwd() / "mappings"
    if here.is_dir():
        return here.resolve()
    return _PACKAGE_ROOT / "mappings"


@dataclass(frozen=True)
class CodeTable:
    """A CSV code list: its header and rows (comment lines starting with ``#`` are skipped)."""

    ref: str
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    def column(self, name: str | None, where: str) -> list[str]:
        name = self.require_column(name, where, default_index=0)
        return [row[name] for row in self.rows]

    def require_column(self, name: str | None, where: str, *, default_index: int) -> str:
        if name is None:
            if len(self.header) <= default_index:
                raise ConfigError(f"{self.ref} has no column {default_index + 1}", path=where)
            return self.header[default_index]
        if name not in self.header:
            raise ConfigError(
                f"{self.ref} has no column {name!r} (columns: {', '.join(self.header)})", path=where
            )
        return name


class Resources:
    """Resolves ``@`` references against ``mappings_dir`` and keeps what it read, for the version."""

    def __init__(self, mappings_dir: Path) -> None:
        self.mappings_dir = Path(mappings_dir).resolve()
        self._bytes: dict[str, bytes] = {}
        self._tables: dict[str, CodeTable] = {}
        self._json: dict[str, Any] = {}

    def normalise(self, ref: Any, where: str) -> tuple[str, Path]:
        """``@codelists/x.csv`` -> (``codelists/x.csv``, absolute path); refuses escapes and missing files."""
        if not isinstance(ref, str) or not ref.startswith("@") or len(ref) < 2:
            raise ConfigError(
                f"expected a file reference like '@codelists/name.csv', got {ref!r}", path=where
            )
        path = (self.mappings_dir / ref[1:]).resolve()
        try:
            relative = path.relative_to(self.mappings_dir)
        except ValueError:
            raise ConfigError(f"{ref} points outside the mappings directory", path=where) from None
        if not path.is_file():
            raise ConfigError(f"{ref}: file not found in {self.mappings_dir}", path=where)
        return relative.as_posix(), path

    def read_bytes(self, ref: Any, where: str) -> tuple[str, bytes]:
        key, path = self.normalise(ref, where)
        if key not in self._bytes:
            self._bytes[key] = path.read_bytes()
        return key, self._bytes[key]

    def code_table(self, ref: Any, where: str) -> CodeTable:
        key, data = self.read_bytes(ref, where)
        if key not in self._tables:
            self._tables[key] = _parse_csv(key, data, where)
        return self._tables[key]

    def json_document(self, ref: Any, where: str) -> tuple[str, Any]:
        key, data = self.read_bytes(ref, where)
        if key not in self._json:
            try:
                self._json[key] = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ConfigError(f"{key} is not valid JSON: {exc}", path=where) from None
        return key, self._json[key]

    def version(self, route_bytes: bytes) -> str:
        """``sha256:`` of the route file and every referenced file, in sorted reference order."""
        digest = hashlib.sha256()
        digest.update(route_bytes)
        for key in sorted(self._bytes):
            digest.update(b"\x00" + key.encode("utf-8") + b"\x00")
            digest.update(hashlib.sha256(self._bytes[key]).digest())
        return "sha256:" + digest.hexdigest()

    @property
    def referenced(self) -> tuple[str, ...]:
        return tuple(sorted(self._bytes))


def _parse_csv(key: str, data: bytes, where: str) -> CodeTable:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{key} is not UTF-8 text", path=where) from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.reader(io.StringIO("\n".join(lines)))
    try:
        header = tuple(cell.strip() for cell in next(reader))
    except StopIteration:
        raise ConfigError(f"{key} is empty (a header row is required)", path=where) from None
    if len(set(header)) != len(header) or not all(header):
        raise ConfigError(f"{key}: the header has empty or repeated column names", path=where)
    rows = []
    for number, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise ConfigError(
                f"{key}: data row {number} has {len(cells)} cells, the header {len(header)}", path=where
            )
        rows.append({name: cell.strip() for name, cell in zip(header, cells, strict=True)})
    return CodeTable(ref=key, header=header, rows=tuple(rows))
