"""``lienthong``: the command line of the gateway (runs without Airflow).

One module per command group (``runs``, ``records``, ``audit``, ``report``, ``tools``), the group and
its error handling in ``app``, what they share in ``common``.  The operator actions themselves live in
the engine (``lienthong.status``, ``lienthong.dead``, ``lienthong.quarantine``, ``lienthong.reconcile``),
callable without click, so the console in Airflow's UI can call the same functions.
"""

from __future__ import annotations

from lienthong.cli.app import main

__all__ = ["main"]
