#!/usr/bin/env bash
# One-shot set-up before the Airflow components start (docker-compose service airflow-init):
# Airflow's metadata schema, the gateway store's schema, the admin password file SimpleAuthManager
# reads (from AIRFLOW_ADMIN_PASSWORD, never printed), and one pool per target.
set -euo pipefail
# Started as root (compose: user "0:0"): make the shared volumes the airflow user's, then run the rest as
# that user, so that nothing it writes (password file, generated keys) belongs to root.
if [ "$(id -u)" = "0" ]; then
  uid="${AIRFLOW_UID:-50000}"
  mkdir -p /opt/airflow/auth /opt/airflow/logs /opt/lienthong/data
  chown -R "${uid}:0" /opt/airflow/auth /opt/airflow/logs /opt/lienthong/data
  exec setpriv --reuid="${uid}" --regid=0 --clear-groups env HOME=/home/airflow bash "$0" "$@"
fi
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
