"""Airflow plugin: the gateway's status and metrics inside the API server, at ``/lienthong/``.

The logic (and the authentication plugin apps need: Airflow does not protect them) lives in
:mod:`lienthong.airflow.plugin`; this file only registers it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lienthong.airflow.plugin import create_app


class LienthongStatusPlugin(AirflowPlugin):
    name = "lienthong_status"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": "/lienthong", "name": "Liên thông gateway status"},
    ]
    # A link in the UI's navigation: the browser sends the UI's session cookie, which the app accepts.
    external_views = [
        {"name": "Gateway status", "href": "/lienthong/status", "destination": "nav", "category": "browse"},
    ]
