"""Configuration and environment errors of the CLI: one line naming what to fix, exit 2, no traceback,
no password, nothing created on disk; read-only commands never create a store; every option has help.

Real processes for exit codes and tracebacks (a few: each costs an interpreter start), click's
CliRunner for the many read-only commands."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lienthong.cli import main
from lienthong.connections import parse_connection
from lienthong.errors import ConfigError
from lienthong.settings import PACKAGE_ROOT
from tests.conftest import PG_ADMIN_URL, _pg_available

MAPPINGS = PACKAGE_ROOT / "mappings"
SECRET = "S3cr@t#pw"  # needs %-encoding in a URL: must never be printed
#: Valid connections that point nowhere: the preflight passes, nothing is contacted before the store.
NOWHERE = '{"conn_type": "http", "host": "http://127.0.0.1:9", "login": "u", "password": "x"}'


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIENTHONG_", "AIRFLOW_CONN_"))}
    env.update(LIENTHONG_MAPPINGS=str(MAPPINGS), LIENTHONG_LOGSCAN="0", COLUMNS="60", **extra)
    return env


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def lienthong(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A real ``lienthong`` process in ``tmp_path`` (where a default store would be created)."""
    return subprocess.run(
        [sys.executable, "-m", "lienthong.cli", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_config_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(lines) == 1 and lines[0].startswith("configuration error: "), done.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


# --- the store ----------------------------------------------------------------------------------
def test_a_sqlite_path_under_a_file_is_one_line_and_creates_nothing(tmp_path):
    (tmp_path / "afile").write_text("")
    before = _files(tmp_path)
    done = lienthong(
        tmp_path,
        "run",
        "dossier_sync",
        LIENTHONG_DATABASE_URL=f"sqlite:///{tmp_path / 'afile' / 'x.db'}",
        AIRFLOW_CONN_MOTCUA=NOWHERE,
        AIRFLOW_CONN_DVCQG=NOWHERE,
    )
    assert_one_line_config_error(
        done, f"{tmp_path / 'afile'} is a file, not a folder", "LIENTHONG_DATABASE_URL"
    )
    assert _files(tmp_path) == before


def test_an_impossible_sqlite_path_is_one_line_and_verbose_adds_the_traceback(tmp_path):
    url = "sqlite:////proc/lienthong-no-such-dir/x.db"
    done = lienthong(
        tmp_path,
        "run",
        "dossier_sync",
        LIENTHONG_DATABASE_URL=url,
        AIRFLOW_CONN_MOTCUA=NOWHERE,
        AIRFLOW_CONN_DVCQG=NOWHERE,
    )
    assert_one_line_config_error(done, "cannot create the SQLite store at /proc/lienthong-no-such-dir/x.db")
    verbose = lienthong(tmp_path, "-v", "status", LIENTHONG_DATABASE_URL=url)
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("configuration error: no store at")
    assert _files(tmp_path) == set()


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_named_without_credentials(tmp_path):
    if not _pg_available():
        pytest.skip("PostgreSQL is not answering")
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace(
        "root@", f"root:{SECRET.replace('@', '%40').replace('#', '%23')}@"
    )
    done = lienthong(tmp_path, "status", LIENTHONG_DATABASE_URL=f"{base}/lienthong_no_such_db")
    line = assert_one_line_config_error(
        done, "postgresql://127.0.0.1:5432/lienthong_no_such_db", "does not exist", "LIENTHONG_DATABASE_URL"
    )
    assert "S3cr" not in line and "root" not in line
    assert _files(tmp_path) == set()


def test_a_password_that_needs_percent_encoding_is_said_and_never_printed(tmp_path):
    done = lienthong(
        tmp_path, "status", LIENTHONG_DATABASE_URL=f"postgresql://root:{SECRET}@127.0.0.1:5432/test"
    )
    line = assert_one_line_config_error(done, "must be %-encoded", "LIENTHONG_DATABASE_URL")
    assert "S3cr" not in done.stderr + done.stdout and "pw" not in line
    assert _files(tmp_path) == set()


READ_ONLY = [
    ("status",),
    ("status", "--json"),
    ("metrics",),
    ("report",),
    ("replays",),
    ("dead", "list"),
    ("dead", "show", "1"),
    ("quarantine", "list"),
    ("quarantine", "show", "1"),
    ("audit", "show", "000.00.00.H07-250101-0001"),
    ("audit", "verify"),
    ("audit", "export"),
    ("tombstones", "list"),
    ("review", "list"),
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_on_a_misspelt_sqlite_path_create_no_store_and_no_key(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)
    for name in [k for k in os.environ if k.startswith(("LIENTHONG_", "AIRFLOW_CONN_"))]:
        if name not in ("LIENTHONG_MAPPINGS", "LIENTHONG_LOGSCAN"):
            monkeypatch.delenv(name)
    misspelt = tmp_path / "data" / "lienthnog.db"
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", f"sqlite:///{misspelt}")
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    assert (
        f"no store at sqlite:///{misspelt}; set LIENTHONG_DATABASE_URL or run a route first" in result.output
    )
    assert _files(tmp_path) == set()  # no store, no folder, no archive key


@pytest.mark.postgres
def test_read_only_commands_on_an_empty_postgresql_database_do_not_create_the_schema(pg_database, tmp_path):
    """A database that exists but holds no store is not one: status must not migrate it into one."""
    import psycopg

    name = pg_database.rsplit("/", 1)[1] + "_empty"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = pg_database.rsplit("/", 1)[0] + "/" + name
        done = CliRunner(env={"LIENTHONG_DATABASE_URL": url}).invoke(main, ["review", "list"])
        assert done.exit_code == 2 and "no store at postgresql://127.0.0.1:5432/" + name in done.output
        with psycopg.connect(admin.rsplit("/", 1)[0] + "/" + name) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_a_read_only_command_without_the_archive_key_names_it_and_generates_none(pg_database, tmp_path):
    """Against PostgreSQL the key lives in LIENTHONG_HOME: run from another folder, a read-only command
    must say where it looked, not generate a key that opens nothing this store holds."""
    from lienthong.store import Store

    Store(pg_database).dispose()  # a store with its schema
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = lienthong(elsewhere, "review", "list", LIENTHONG_DATABASE_URL=pg_database)
    assert_one_line_config_error(
        done, "no archive key", str(elsewhere / ".lienthong" / "keys" / "archive.keys")
    )
    assert _files(elsewhere) == set()
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True)
    from lienthong.audit.keyring import new_key_line

    (home / "keys" / "archive.keys").write_text(new_key_line() + "\n")
    listed = lienthong(
        elsewhere, "review", "list", "--json", LIENTHONG_DATABASE_URL=pg_database, LIENTHONG_HOME=str(home)
    )
    assert listed.returncode == 0, listed.stderr
    assert isinstance(__import__("json").loads(listed.stdout), list)


def test_the_sqlite_store_is_created_readable_by_its_owner_only(tmp_path):
    from lienthong.store import Store

    path = tmp_path / "new" / "gateway.db"
    store = Store(f"sqlite:///{path}")
    with store.session() as session:
        session.execute(__import__("sqlalchemy").text("SELECT 1"))
    store.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for companion in path.parent.glob("gateway.db-*"):  # WAL / shared memory take the file's mode
        assert stat.S_IMODE(companion.stat().st_mode) & 0o077 == 0


# --- connections ----------------------------------------------------------------------------------
def test_a_missing_connection_names_the_variable_and_creates_nothing(tmp_path):
    done = lienthong(tmp_path, "run", "dossier_sync", AIRFLOW_CONN_DVCQG=NOWHERE)
    assert_one_line_config_error(done, "AIRFLOW_CONN_MOTCUA")
    assert _files(tmp_path) == set()  # resolved before the store is opened


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('{"host": "h", "port": "eighty", "password": "%s"}', "the port is not a number"),
        ('{"host": "h", "password": "%s", "extra": "{not json"}', "extra is not valid JSON"),
        ('{"host": "h", "password": "%s", "extra": [1]}', "extra is not a JSON object"),
        ('{"login": "u", "password": "%s"}', "names no host"),
        ("http://u:%s@h:99999/x", "the port is not a number"),
        ('{"host": "h", "password": "%s",', "is not valid JSON"),
        ("just-a-word-%s", "neither JSON nor a connection URI"),
    ],
)
def test_an_invalid_connection_is_one_error_naming_the_variable_not_the_password(raw, expected):
    with pytest.raises(ConfigError) as caught:
        parse_connection("dvcqg", raw.replace("%s", "S3cret"))
    assert str(caught.value).startswith("AIRFLOW_CONN_DVCQG") and expected in str(caught.value)
    assert "S3cret" not in str(caught.value) and caught.value.__cause__ is None


def test_an_invalid_connection_in_a_run_is_exit_2_without_the_password(tmp_path):
    bad = '{"host": "http://127.0.0.1", "port": "x", "password": "S3cret-dvcqg"}'
    done = lienthong(tmp_path, "deliver", "dossier_sync", AIRFLOW_CONN_DVCQG=bad)
    assert_one_line_config_error(done, "AIRFLOW_CONN_DVCQG", "port")
    assert "S3cret" not in done.stderr + done.stdout and _files(tmp_path) == set()


# --- simulators on a busy port ------------------------------------------------------------------
def test_simulators_on_a_busy_port_name_the_port_and_release_the_others(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        done = lienthong(
            tmp_path,
            "simulators",
            "--dossiers",
            "5",
            "--motcua-port",
            "0",
            "--dvcqg-port",
            str(busy),
            "--bhxh-port",
            "0",
            "--no-exports",
        )
    assert_one_line_config_error(done, f"127.0.0.1:{busy}", "already in use", "--dvcqg-port")


def test_the_cluster_releases_ports_it_took_when_a_later_one_is_busy():
    from simulators.cluster import PortUnavailable, SimulatorCluster

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        with pytest.raises(PortUnavailable) as caught:
            SimulatorCluster(ports=(free, 0, busy), motcua_settings={"total": 3})
    assert caught.value.name == "bhxh" and caught.value.port == busy
    with socket.socket() as again:  # the motcua port taken before the failure was given back
        again.bind(("127.0.0.1", free))


# --- help -----------------------------------------------------------------------------------------
def _walk(command: click.Command, path: str = "lienthong"):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help_text():
    missing = []
    for path, command in _walk(main):
        if not (command.help or "").strip():
            missing.append(f"{path}: no help text")
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}: no help text")
    assert missing == []


def test_every_listing_has_json():
    listings = [p for p, c in _walk(main) if p.split()[-1] in ("list", "show", "status", "replays")]
    assert len(listings) >= 8
    lacking = [
        p
        for p, c in _walk(main)
        if p in listings and "--json" not in {o for prm in c.params for o in prm.opts}
    ]
    assert lacking == []
