"""The DAG folder: every route's DAG imports with no error and no warning, has the right shape, and the
import itself does no engine work (no mapping compiled, no store, no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from lienthong.airflow.pools import pool_specs, pools_import_document
from lienthong.airflow.settings import read_routes, target_pool_slots
from lienthong.errors import ConfigError
from lienthong.settings import PACKAGE_ROOT
from tests.airflow.conftest import DAGS_FOLDER
from tests.airflow.helpers import edit_yaml, load_dagbag

ROUTES = sorted(path.stem for path in (PACKAGE_ROOT / "mappings").glob("*.yaml"))


def test_every_route_file_is_a_dag_that_imports_without_error_or_warning(airflow_db):
    bag, caught = load_dagbag()
    assert bag.import_errors == {}
    assert [str(w.message) for w in caught] == [] and bag.captured_warnings == {}
    assert sorted(bag.dags) == ROUTES == ["birth_bhyt", "catalogue_sync", "dossier_sync"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_route_dag_has_the_engine_shape_and_the_route_schedule(airflow_db, route):
    import yaml

    bag, _ = load_dagbag()
    dag = bag.dags[route]
    raw = yaml.safe_load((PACKAGE_ROOT / "mappings" / f"{route}.yaml").read_text(encoding="utf-8"))
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == raw["schedule"] and str(dag.timetable.timezone) == "Asia/Ho_Chi_Minh"
    assert {t: sorted(dag.task_dict[t].downstream_task_ids) for t in dag.task_dict} == {
        "extract": ["reconcile", "transform"],
        "transform": ["deliver"],
        "deliver": ["reconcile"],
        "reconcile": [],
    }
    deliver = dag.task_dict["deliver"]
    assert deliver.pool == f"lienthong_{raw['target']['name']}"
    assert deliver.retries == 2 and deliver.retry_delay == timedelta(seconds=60)
    reconcile = dag.task_dict["reconcile"]
    assert (
        reconcile.retries == 0 and reconcile.trigger_rule == "all_done"
    )  # closes the run after a failed deliver
    # extract and transform alert through the callback; deliver batches and reconcile do not: reconcile
    # sends the one alert of the DAG run (tasks.reconcile_step).
    assert {t: bool(dag.task_dict[t].on_failure_callback) for t in dag.task_dict} == {
        "extract": True,
        "transform": True,
        "deliver": False,
        "reconcile": False,
    }


def test_importing_the_dag_folder_loads_no_engine_module():
    """Parsing builds graphs only: the engine (mapping compiler, store, connectors) is imported by tasks."""
    code = (
        "import runpy, sys, json; runpy.run_path(sys.argv[1]);"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('lienthong', 'connectors')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(DAGS_FOLDER / "lienthong_routes.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [
        m
        for m in loaded
        if m.startswith(("lienthong.pipeline", "lienthong.mapping", "lienthong.store", "connectors"))
    ]


def test_a_new_route_file_is_a_new_dag_with_its_own_airflow_settings(airflow_db, tmp_path, monkeypatch):
    import shutil

    mappings = tmp_path / "mappings"
    shutil.copytree(PACKAGE_ROOT / "mappings", mappings)
    text = (mappings / "catalogue_sync.yaml").read_text(encoding="utf-8")
    (mappings / "catalogue_nightly.yaml").write_text(
        text.replace("route: catalogue_sync", "route: catalogue_nightly"), encoding="utf-8"
    )
    edit_yaml(
        mappings / "catalogue_nightly.yaml",
        lambda r: r.update(schedule="30 1 * * *", airflow={"batch_size": 50, "retries": 1}),
    )
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    bag, _ = load_dagbag()
    assert bag.import_errors == {} and "catalogue_nightly" in bag.dags
    dag = bag.dags["catalogue_nightly"]
    assert dag.timetable.expression == "30 1 * * *" and dag.task_dict["extract"].retries == 1


def test_a_bad_airflow_block_names_the_file_and_the_key(tmp_path):
    (tmp_path / "r.yaml").write_text(
        "route: r\ntarget: {name: t}\nairflow: {batch_size: 0}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as error:
        read_routes(tmp_path)
    assert str(error.value) == "r.yaml: airflow.batch_size: must be at least 1"
    (tmp_path / "r.yaml").write_text(
        "route: r\ntarget: {name: t}\nairflow: {batchsize: 5}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"r.yaml: airflow: unknown key\(s\) batchsize"):
        read_routes(tmp_path)


def test_one_pool_per_target_sized_by_the_target_file(tmp_path):
    import shutil

    mappings = tmp_path / "mappings"
    shutil.copytree(PACKAGE_ROOT / "mappings", mappings)
    edit_yaml(mappings / "targets" / "bhxh.yaml", lambda t: t.update(airflow={"pool_slots": 2}))
    specs = {spec.name: spec for spec in pool_specs(mappings)}
    assert sorted(specs) == ["lienthong_bhxh", "lienthong_dvcqg"]
    assert specs["lienthong_bhxh"].slots == 2 and target_pool_slots("bhxh", mappings) == 2
    assert specs["lienthong_dvcqg"].slots == target_pool_slots("dvcqg", PACKAGE_ROOT / "mappings")
    assert "catalogue_sync, dossier_sync" in specs["lienthong_dvcqg"].description
    document = pools_import_document(list(specs.values()))
    assert document["lienthong_bhxh"] == {
        "slots": 2,
        "description": specs["lienthong_bhxh"].description,
        "include_deferred": False,
    }


def test_the_pools_command_creates_the_pools_in_airflow(airflow_db, tmp_path):
    """``python -m lienthong.airflow.pools --apply`` against the test session's Airflow."""
    import os

    done = subprocess.run(
        [sys.executable, "-m", "lienthong.airflow.pools", "--apply", "--json", str(tmp_path / "pools.json"),
         "--airflow", str(__import__("pathlib").Path(sys.executable).with_name("airflow"))],
        capture_output=True, text=True, timeout=300, env=dict(os.environ), cwd=str(PACKAGE_ROOT),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    listed = subprocess.run(
        [str(__import__("pathlib").Path(sys.executable).with_name("airflow")), "pools", "list", "-o", "json"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )  # fmt: skip
    pools = {p["pool"]: int(p["slots"]) for p in json.loads(listed.stdout[listed.stdout.index("[") :])}
    expected = {spec.name: spec.slots for spec in pool_specs(PACKAGE_ROOT / "mappings")}
    assert {name: pools[name] for name in expected} == expected
    assert json.loads((tmp_path / "pools.json").read_text(encoding="utf-8")).keys() == expected.keys()
