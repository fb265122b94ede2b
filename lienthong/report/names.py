"""Agency names for the report: from a province's code list, then from the data the targets hold.

The source only gives agency *codes* per record (``source.agency``).  Names come, in this order of
precedence, from what the targets acknowledged (the catalogue's ``TenCoQuan``, a dossier's ``DonViXuLy``: the names
citizens see on the portal) and from ``mappings/codelists/agencies.csv`` (``code,name``), which also
names agencies that have nothing acknowledged yet.  Text is NFC so Vietnamese names compare and render the
same whichever form the source sent.
"""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

CODELIST = Path("codelists") / "agencies.csv"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def codelist_names(mappings_dir: Path | None) -> dict[str, str]:
    """``code → name`` from the province's code list (empty if it has none)."""
    if mappings_dir is None:
        return {}
    path = Path(mappings_dir) / CODELIST
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.lstrip().startswith("#"))
        return {nfc(row["code"]): nfc(row["name"]) for row in rows if row.get("code") and row.get("name")}


class AgencyNames:
    """Collects names while acknowledged payloads are read; those names win over the code list."""

    def __init__(self, base: dict[str, str] | None = None) -> None:
        self._names = dict(base or {})
        self._synced: set[str] = set()

    def seen(self, code: str | None, name: object) -> None:
        if not code or not isinstance(name, str) or not name.strip():
            return
        if code not in self._synced:
            self._names[code] = nfc(name)
            self._synced.add(code)

    def as_dict(self) -> dict[str, str]:
        return dict(self._names)
