#!/usr/bin/env sh
# The CeleryExecutor deployment of docker/ started natively (no Docker engine needed):
#   scripts/airflow-cluster.sh up|down|status [--run-dir DIR] [--api-port N] [--workers N] [--dossiers N]
# Logic and defaults: lienthong/airflow/cluster.py; shared Airflow settings: docker/airflow.env.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}
cd "$ROOT"
exec "$PYTHON" -m lienthong.airflow.cluster "$@"
