"""The integration fixtures (simulators on loopback, a gateway pointed at them) for end-to-end cases."""

from __future__ import annotations

from tests.integration.conftest import cluster, gateway, store_url  # noqa: F401 - fixtures


def pytest_configure(config):
    config.addinivalue_line("markers", "motcua(**settings): settings of the one-stop simulator for this test")
