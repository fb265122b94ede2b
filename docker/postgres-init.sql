-- The official postgres image creates POSTGRES_DB (Airflow's metadata, Celery results); the gateway
-- store gets a database of its own, as in the native cluster (lienthong/airflow/cluster.py).
CREATE DATABASE lienthong_store OWNER airflow;
