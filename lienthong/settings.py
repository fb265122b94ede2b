"""Where the gateway keeps its state and finds its mappings, read once from the environment.

Defaults are the embedded ones (DESIGN.md "Defaults that must hold"): a SQLite file under
``./.lienthong/`` and the ``mappings/`` folder of the checkout.  Production sets
``LIENTHONG_DATABASE_URL`` (PostgreSQL) and, for a province's own configuration, ``LIENTHONG_MAPPINGS``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    mappings_dir: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LIENTHONG_HOME", ".lienthong")).resolve()
        database_url = env.get("LIENTHONG_DATABASE_URL") or f"sqlite:///{data_dir / 'lienthong.db'}"
        mappings = env.get("LIENTHONG_MAPPINGS")
        if mappings:
            mappings_dir = Path(mappings).resolve()
        elif (Path.cwd() / "mappings").is_dir():
            mappings_dir = (Path.cwd() / "mappings").resolve()
        else:
            mappings_dir = PACKAGE_ROOT / "mappings"
        return cls(data_dir=data_dir, database_url=database_url, mappings_dir=mappings_dir)
