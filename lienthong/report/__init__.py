"""The reconciliation report (``lienthong report``): a banner that says what is open, in numbers;
every record in the gap (per key, by its latest version: :mod:`lienthong.record_gap`); per route,
agency and day where the records are; the mapping versions used; the audit ledger's last
verification; the catalogue's "offered online vs acknowledged" figure; the national portal's service
indicators recomputed from what it acknowledged.  Text, CSV or self-contained HTML.

Modules, one concept each: ``model`` (the data the renderers share), ``payloads`` (the one read of
acknowledged payloads), ``names`` (agency names), ``indicators`` (pure arithmetic over payloads),
``versions`` (mapping versions, the older-mapping figure), ``ledger`` (the audit ledger's state),
``collect`` (queries → model), ``banner`` (the verdict and exit status), ``gaptable`` (one gap row,
shown safely), ``text`` / ``csvout`` / ``html`` + ``html_sections`` (renderers), ``svg`` (charts).
"""

from __future__ import annotations

from lienthong.report.collect import collect_report
from lienthong.report.model import ReportData

__all__ = ["ReportData", "collect_report"]
