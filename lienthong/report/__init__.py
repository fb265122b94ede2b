"""The reconciliation report (``lienthong report``): per route, agency and day, what was pulled and
where it is now; the catalogue's "offered online vs synced" figure; the national portal's service
indicators recomputed from what the gateway delivered.  Text, CSV or self-contained HTML.

Modules, one concept each: ``model`` (the data the renderers share), ``payloads`` (the one read of
delivered payloads), ``names`` (agency names), ``indicators`` (pure arithmetic over payloads),
``collect`` (queries → model), ``text`` / ``csvout`` / ``html`` (renderers), ``svg`` (charts).
"""

from __future__ import annotations

from lienthong.report.collect import collect_report
from lienthong.report.model import ReportData

__all__ = ["ReportData", "collect_report"]
