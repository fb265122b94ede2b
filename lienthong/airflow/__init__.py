"""Airflow 3 integration: one DAG per route file, built by :mod:`lienthong.airflow.factory`.

Airflow schedules, retries whole tasks, alerts and shows; the engine does the work.  The modules are
small and import little, because the DAG folder must parse fast: ``settings`` (the ``airflow:`` blocks
of the route and target files, read as plain YAML) and ``factory`` are what a DAG file imports; the
engine (``tasks``, ``batches``) is imported inside the tasks only.
"""
