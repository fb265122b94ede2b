"""The report as CSV: one tidy table (``section, route, agency, agency_name, day, metric, value``),
so a spreadsheet's pivot or any CSV reader takes every section without knowing its shape.

Sections: ``flow`` (per route, agency and day), ``route_total``, ``catalogue`` (per agency:
offered_online, synced), ``indicators`` (per agency: dossiers, online, finished, on_time,
finished_undated, online_share, on_time_rate).  UTF-8 with a BOM, so spreadsheet programs read the
Vietnamese names right.
"""

from __future__ import annotations

import csv
import io

from lienthong.reconcile import Reconciliation
from lienthong.report.model import ReportData

HEADER = ["section", "route", "agency", "agency_name", "day", "metric", "value"]
FLOW_METRICS = (
    "pulled mapped quarantined filtered unchanged delivered acknowledged dead pending review superseded "
    "awaiting_mapping missing"
).split()


def _flow_rows(section: str, route: str, agency: str, name: str, day: str, counts: Reconciliation):  # noqa: ANN202
    for metric in FLOW_METRICS:
        yield [section, route, agency, name, day, metric, getattr(counts, metric)]
    yield [section, route, agency, name, day, "gap", counts.gap]


def render_csv(data: ReportData) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for route in data.routes:
        writer.writerows(_flow_rows("route_total", route.route, "", "", "", route.totals))
        for piece in route.slices:
            name = data.agency_name(piece.agency) if piece.agency else ""
            writer.writerows(_flow_rows("flow", route.route, piece.agency, name, piece.day, piece.counts))
    for figure in data.catalogue:
        name = data.agency_name(figure.agency)
        writer.writerow(
            ["catalogue", data.catalogue_route, figure.agency, name, "", "offered_online", figure.offered]
        )
        writer.writerow(["catalogue", data.catalogue_route, figure.agency, name, "", "synced", figure.synced])
    for row in data.indicators:
        name = data.agency_name(row.agency)
        values = {
            "dossiers": row.dossiers,
            "online": row.online,
            "finished": row.finished,
            "on_time": row.on_time,
            "finished_undated": row.finished_undated,
            "online_share": "" if row.online_share is None else f"{row.online_share:.4f}",
            "on_time_rate": "" if row.on_time_rate is None else f"{row.on_time_rate:.4f}",
        }
        for metric, value in values.items():
            writer.writerow(["indicators", data.dossier_route, row.agency, name, "", metric, value])
    return out.getvalue()
