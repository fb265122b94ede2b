"""Simulator of the Vietnam Social Security (BHXH) health-insurance card registry (SOAP 1.1 + WSDL).

``BhxhSimulator`` is the :class:`simulators.server.SimApp` to serve; see ``docs/simulators/bhxh.md``.
"""

from __future__ import annotations

from simulators.bhxh.app import DEFAULT_PASSWORD, DEFAULT_USERNAME, SERVICE_PATH, BhxhSimulator

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USERNAME", "SERVICE_PATH", "BhxhSimulator"]
