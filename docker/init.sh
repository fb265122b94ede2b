#!/usr/bin/env bash
# One-shot set-up before the Airflow components start (docker-compose service airflow-init):
# Airflow's metadata schema, the gateway store's schema, the admin password file SimpleAuthManager
# reads (from AIRFLOW_ADMIN_PASSWORD, never printed), and one pool per target.
set -euo pipefail
airflow db migrate
python - <<'PY'
import json, os
from pathlib import Path
from lienthong.store import Store

Store(os.environ["LIENTHONG_DATABASE_URL"]).dispose()
path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}))
path.chmod(0o600)
PY
python -m lienthong.airflow.pools --apply
