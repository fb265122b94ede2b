"""Simulator of the National Public Service Portal (Cổng Dịch vụ công Quốc gia, DVCQG).

``DvcqgApp`` is the :class:`simulators.server.SimApp`; run it with ``RunningSimulator(DvcqgApp())``
or ``python -m simulators.dvcqg --port 8082``.  See ``docs/simulators/dvcqg.md``.
"""

from __future__ import annotations

from simulators.dvcqg.app import DvcqgApp

__all__ = ["DvcqgApp"]
