"""Fixtures of the settle/remap tests (imported by them; not a conftest, so that other lifecycle tests
keep their own): the simulators on loopback, a private copy of mappings/, and a gateway on each backend
(the root ``store_url`` fixture: SQLite and the real PostgreSQL server)."""

from __future__ import annotations

import json
import shutil

import pytest
import requests
import yaml
from click.testing import CliRunner

from lienthong.cli import main
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store import Store
from tests.integration.conftest import MAPPINGS, make_cluster, received

__all__ = ["Env", "edit_yaml", "env_factory", "mappings", "received", "set_status_code"]


@pytest.fixture()
def mappings(tmp_path):
    """A private copy of mappings/ that a test may edit (a province's configuration)."""
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, target)
    return target


def edit_yaml(path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def set_status_code(mappings, source_id: int, code: int) -> None:
    """Map the one-stop status ``source_id`` to TrangThaiHoSo ``code`` in the copy's code list."""
    path = mappings / "codelists" / "motcua_status.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = [
        line.rsplit(",", 1)[0] + f",{code}" if line.startswith(f"{source_id},") else line for line in lines
    ]
    assert changed != lines or str(code) in "".join(lines), "the status code list changed shape"
    path.write_text("\n".join(changed) + "\n", encoding="utf-8")


class Env:
    """The simulators, a gateway on ``store_url`` over a mappings copy, and the CLI bound to both."""

    def __init__(self, cluster, mappings, store_url, monkeypatch) -> None:
        self.cluster, self.mappings, self.store_url = cluster, mappings, store_url
        for name, value in cluster.connection_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("LIENTHONG_DATABASE_URL", store_url)
        monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
        self.gateway = self.new_gateway()

    def new_gateway(self) -> Gateway:
        """A gateway that reads the mapping files as they are now (a process started after an edit)."""
        settings = Settings(
            data_dir=self.mappings.parent, database_url=self.store_url, mappings_dir=self.mappings
        )
        return Gateway(settings, Store(self.store_url))

    def cli(self, *args: str, ok: bool = True):
        result = CliRunner().invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def cli_json(self, *args: str):
        return json.loads(self.cli(*args, "--json").output)

    def portal(self) -> dict:
        return received(self.cluster.dvcqg)["dossiers"]

    def source_patch(self, dossier_id: str, patch: dict) -> dict:
        answer = requests.post(
            f"{self.cluster.motcua.url}/_sim/dossiers/{dossier_id}", json=patch, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["dossier"]

    def source_get(self, dossier_id: str) -> dict:
        return requests.get(f"{self.cluster.motcua.url}/_sim/dossiers/{dossier_id}", timeout=10).json()[
            "dossier"
        ]


@pytest.fixture()
def env_factory(mappings, store_url, monkeypatch):
    started = []

    def start(**motcua) -> Env:
        cluster = make_cluster(**motcua).__enter__()
        started.append(cluster)
        return Env(cluster, mappings, store_url, monkeypatch)

    yield start
    for cluster in started:
        cluster.__exit__(None, None, None)
