"""A process that only reads a store (an auditor's `report`, `dead list`) opens its sealed values
with that store's key ring, even when started from another directory with no key configured, and
never invents a key of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import MAPPINGS
from tests.integration.test_guarantees import gateway_on

LIENTHONG = Path(sys.executable).parent / "lienthong"


@pytest.mark.motcua(total=20)
def test_a_reader_started_elsewhere_opens_the_stores_sealed_values(cluster, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LIENTHONG_ARCHIVE_KEYS", raising=False)
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    store_url = f"sqlite:///{store_dir / 'gateway.db'}"
    assert gateway_on(MAPPINGS, store_url).run("dossier_sync").status == "succeeded"
    assert (store_dir / "keys" / "archive.keys").exists()  # the store's own generated ring

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    answer = subprocess.run(
        [str(LIENTHONG), "--database-url", store_url, "report", "--format", "csv"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert "dossier_sync" in answer.stdout
    assert not (elsewhere / ".lienthong").exists()  # no key invented by a reader
