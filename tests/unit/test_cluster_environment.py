"""What the native cluster's components get from the operator's environment, and what it prints for a
CLI (no processes started: the environment is computed, not run)."""

from __future__ import annotations

import json
import stat

import pytest

from lienthong.airflow.cluster import Cluster, ClusterConfig, ClusterError, main
from simulators.cluster import DVCQG_PASSWORD

OPERATOR = {
    "PATH": "/usr/bin",
    "AIRFLOW_CONN_LIENTHONG_ALERTS": '{"conn_type": "http", "host": "http://127.0.0.1:9/hook"}',
    "AIRFLOW__SMTP__SMTP_HOST": "smtp.example.gov.vn",
    "AIRFLOW__EMAIL__FROM_EMAIL": "lienthong@example.gov.vn",
    "LIENTHONG_ARCHIVE_KEYS_FILE": "/run/secrets/archive.keys",
    "LIENTHONG_AUDIT_PINNED_KEYS": "abc123",
    # Another Airflow deployment's settings in the caller's shell must not leak into the cluster.
    "AIRFLOW__CORE__DAGS_FOLDER": "/somewhere/else",
    "AIRFLOW_HOME": "/somewhere/else",
    "LIENTHONG_CLUSTER_WORKERS": "7",
    "LIENTHONG_DATABASE_URL": "sqlite:///operator.db",
}


def test_operator_settings_reach_the_components_and_the_cluster_keeps_its_own(tmp_path):
    cluster = Cluster(ClusterConfig(run_dir=tmp_path))
    env = cluster.component_environment(OPERATOR)
    for key in (
        "AIRFLOW_CONN_LIENTHONG_ALERTS",
        "AIRFLOW__SMTP__SMTP_HOST",
        "AIRFLOW__EMAIL__FROM_EMAIL",
        "LIENTHONG_ARCHIVE_KEYS_FILE",
        "LIENTHONG_AUDIT_PINNED_KEYS",
    ):
        assert env[key] == OPERATOR[key], key
    assert env["PATH"] == "/usr/bin"
    own = cluster.environment()
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == own["AIRFLOW__CORE__DAGS_FOLDER"] != "/somewhere/else"
    assert env["AIRFLOW_HOME"] == own["AIRFLOW_HOME"]
    assert env["LIENTHONG_DATABASE_URL"] == own["LIENTHONG_DATABASE_URL"]  # the cluster's store
    assert "LIENTHONG_CLUSTER_WORKERS" not in env


def test_with_simulators_their_connections_win_without_them_the_operators(tmp_path):
    operator = {**OPERATOR, "AIRFLOW_CONN_DVCQG": '{"host": "https://lgsp.example.gov.vn"}'}
    with_sims = Cluster(ClusterConfig(run_dir=tmp_path / "a")).component_environment(operator)
    assert "127.0.0.1" in json.loads(with_sims["AIRFLOW_CONN_DVCQG"])["host"]

    config = ClusterConfig(run_dir=tmp_path / "b", simulators=False)
    with pytest.raises(ClusterError, match="AIRFLOW_CONN_MOTCUA, AIRFLOW_CONN_BHXH"):
        Cluster(config).component_environment(operator)
    real = {
        **operator,
        "AIRFLOW_CONN_MOTCUA": '{"host": "https://motcua.example.gov.vn"}',
        "AIRFLOW_CONN_BHXH": '{"host": "https://bhxh.example.gov.vn"}',
    }
    env = Cluster(config).component_environment(real)
    assert env["AIRFLOW_CONN_DVCQG"] == operator["AIRFLOW_CONN_DVCQG"]
    assert "simulators" not in [c.name for c in Cluster(config).components()]


def test_no_simulators_from_the_environment(tmp_path):
    config = ClusterConfig.from_env({"LIENTHONG_CLUSTER_SIMULATORS": "0"}, run_dir=tmp_path)
    assert config.simulators is False


def test_the_printed_cli_environment_holds_no_secret(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LIENTHONG_ARCHIVE_KEYS", "k1:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==")
    assert main(["env", "--run-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert DVCQG_PASSWORD not in printed and "c2VjcmV0" not in printed
    assert "export LIENTHONG_DATABASE_URL=" in printed and "export LIENTHONG_HOME=" in printed
    assert "# LIENTHONG_ARCHIVE_KEYS: set in your environment" in printed
    files = sorted((tmp_path / "connections").iterdir())
    assert [f.name for f in files] == [
        "AIRFLOW_CONN_BHXH.json",
        "AIRFLOW_CONN_DVCQG.json",
        "AIRFLOW_CONN_MOTCUA.json",
    ]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert f'"$(cat {file})"' in printed or f"\"$(cat '{file}')\"" in printed
