"""A demo-like run against the simulators, shared by the report tests (built once per module).

The province's configuration is a private copy of ``mappings/`` changed so that every outcome shows up:
postal dossiers are outside the selection (``filtered``), one-stop status 3 maps to a code the portal
refuses (its dossiers go ``dead``), the simulator's messy identity numbers are ``quarantined``, seven
procedures offered online carry a processing time that does not map (quarantined: offered but not
acknowledged), and after the first runs one dossier is withdrawn (a second version), another changes an
unmapped field (``unchanged``), and one quarantined dossier is fixed at the source (its second version is
acknowledged: the record leaves the gap while its first version stays quarantined).  Then two
acknowledged dossiers are deleted at the source and a resync raises their tombstones.

``clean_scenario``: the same simulators without mess, the shipped mappings, the dossier route only, and
the ledger verified: a store with nothing open.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from lienthong.clock import utcnow
from lienthong.pipeline.runner import Gateway
from lienthong.settings import Settings
from lienthong.store import Store
from simulators.cluster import SimulatorCluster
from tests.integration.conftest import MAPPINGS, make_cluster, received

ROUTES = ("birth_bhyt", "catalogue_sync", "dossier_sync")
BROKEN_AGENCY = "000.00.15.H07"  # Sở Tư pháp: seven of its online procedures will not map


@dataclass
class Scenario:
    cluster: SimulatorCluster
    gateway: Gateway
    mappings: Path
    store_url: str
    between_runs: datetime  # naive UTC: after the first runs, before the second dossier run
    withdrawn: str  # record key of the withdrawn dossier (two versions acknowledged)
    unmapped_change: str  # record key whose second version is "unchanged"
    broken_procedures: list[str]  # record keys of the catalogue entries that do not map
    fixed: str  # record key of the dossier quarantined, then fixed at the source and acknowledged
    deleted: list[str]  # record keys of the acknowledged dossiers deleted at the source


def _edit_yaml(path: Path, change) -> None:  # noqa: ANN001
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def province_mappings(folder: Path) -> Path:
    target = folder / "mappings"
    shutil.copytree(MAPPINGS, target)

    def dossier_route(route: dict) -> None:
        route["target"].pop("schema")  # the refusal must come from the portal itself
        route["select"] = [{"path": "applyMethod.id", "then": ["str"], "not_in": ["3"]}]

    _edit_yaml(target / "dossier_sync.yaml", dossier_route)
    codes = target / "codelists" / "motcua_status.csv"
    lines = codes.read_text(encoding="utf-8").splitlines()
    codes.write_text(
        "\n".join(line.rsplit(",", 1)[0] + ",44" if line.startswith("3,") else line for line in lines) + "\n",
        encoding="utf-8",
    )
    return target


def _break_procedures(app, count: int) -> list[str]:  # noqa: ANN001
    _, procedures = app.procedures.search(None, None, 0, 10_000)
    chosen = [p for p in procedures if p["agency"]["code"] == BROKEN_AGENCY and p["onlineLevel"] != "NONE"]
    keys = []
    for procedure in chosen[:count]:
        app.update_procedure(procedure["id"], processingDays="mười ngày")
        keys.append(f"{procedure['nationCode']}|{BROKEN_AGENCY}")
    return keys


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    mappings = province_mappings(folder)
    store_url = f"sqlite:///{folder / 'gateway.db'}"
    with make_cluster(mess_rate=0.25) as cluster, pytest.MonkeyPatch.context() as patch:
        for name, value in cluster.connection_env().items():
            patch.setenv(name, value)
        app = cluster.motcua.app
        broken = _break_procedures(app, 7)
        gateway = Gateway(
            Settings(data_dir=folder, database_url=store_url, mappings_dir=mappings), Store(store_url)
        )
        for route in ROUTES:
            gateway.run(route, wait_for_retries=0)
        time.sleep(0.01)
        between = utcnow()
        time.sleep(0.01)
        portal = received(cluster.dvcqg)["dossiers"]
        delivered = [app.get_dossier(app.dossier_id(i)) for i in range(40, 80)]
        delivered = [d for d in delivered if d["code"] in portal]
        app.withdraw_dossier(delivered[0]["id"])
        app.update_dossier(delivered[1]["id"], applicant={"data": {"birthday": "1970-01-01"}})  # not mapped
        fixed = _fix_one_quarantined(app, gateway, set(portal))
        gateway.run("dossier_sync", wait_for_retries=0)
        deleted = delivered[2:4]
        for dossier in deleted:
            app.delete_dossier(dossier["id"])
        gateway.run("dossier_sync", since="2000-01-01T00:00:00.000+0700", wait_for_retries=0)
        yield Scenario(
            cluster,
            gateway,
            mappings,
            store_url,
            between,
            delivered[0]["code"],
            delivered[1]["code"],
            broken,
            fixed,
            [d["code"] for d in deleted],
        )
        gateway.store.dispose()


def _fix_one_quarantined(app, gateway, at_portal: set[str]) -> str:  # noqa: ANN001
    """Correct at the source a dossier quarantined for an identity number of the wrong length."""
    from lienthong.store.models import StagedRecord

    with gateway.store.session() as session:
        quarantined = set(
            session.execute(
                select(StagedRecord.source_id).where(
                    StagedRecord.route == "dossier_sync", StagedRecord.state == "quarantined"
                )
            ).scalars()
        )
    for dossier_id in app.find_mess("identity_length", limit=50):
        dossier = app.get_dossier(dossier_id)
        if dossier_id not in quarantined or dossier is None or dossier["code"] in at_portal:
            continue
        if dossier["applyMethod"]["id"] == 3 or dossier["dossierStatus"]["id"] == 3:
            continue  # filtered or refused by the portal whatever its identity number
        number = dossier["applicant"]["data"]["identityNumber"]
        app.update_dossier(dossier_id, applicant={"data": {"identityNumber": (number + "0")[:12]}})
        return dossier["code"]
    raise AssertionError("no quarantined identity_length dossier to fix")


@pytest.fixture(scope="module")
def clean_scenario(tmp_path_factory):
    """A store with nothing open: no mess, the shipped mappings, the ledger verified."""
    from lienthong.audit import verify_ledger

    folder = tmp_path_factory.mktemp("report-clean")
    store_url = f"sqlite:///{folder / 'gateway.db'}"
    with make_cluster(total=30) as cluster, pytest.MonkeyPatch.context() as patch:
        for name, value in cluster.connection_env().items():
            patch.setenv(name, value)
        gateway = Gateway(
            Settings(data_dir=folder, database_url=store_url, mappings_dir=MAPPINGS), Store(store_url)
        )
        gateway.run("dossier_sync", wait_for_retries=0)
        assert verify_ledger(gateway.store, actor="report-test").ok
        yield Scenario(cluster, gateway, MAPPINGS, store_url, utcnow(), "", "", [], "", [])
        gateway.store.dispose()
