"""One DAG per route file in mappings/ (LIENTHONG_MAPPINGS), built by lienthong.airflow.factory.

Thin on purpose: no network, database or mapping compilation at import (docs/airflow.md).
"""

from __future__ import annotations

from lienthong.airflow.factory import build_dags

globals().update(build_dags())
