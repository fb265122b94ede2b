"""Remap and split follow-ups, on SQLite and PostgreSQL.

A follow-up over the portal's per-call limit is queued as part-rows (``lienthong.pipeline.followups``);
remap must compare it with the acknowledged version **as a whole** (every part, in order), the way the
transform does: an unchanged 23-step dossier queues nothing (not one resend of its steps), and a
mapping fix that changes the steps queues every part again, chained part after part.
"""

from __future__ import annotations

import shutil

from sqlalchemy import select

from lienthong import states
from lienthong.pipeline.runner import Gateway
from lienthong.remap import Selection, remap
from lienthong.settings import Settings
from lienthong.store import Store
from lienthong.store.models import OutboxRow
from tests.lifecycle.conftest import MAPPINGS, received, sim_post

ROUTE = "dossier_sync"
PROGRESS = "CapNhatTienDoHoSoMC"


def _progress_rows(gateway, code):
    with gateway.store.session() as session:
        return session.execute(
            select(OutboxRow.id, OutboxRow.item_count, OutboxRow.state, OutboxRow.parent_id)
            .where(OutboxRow.operation == PROGRESS, OutboxRow.record_key == code)
            .order_by(OutboxRow.seq)
        ).all()


def _gateway(store_url, tmp_path, mappings):
    return Gateway(
        Settings(data_dir=tmp_path / "data", database_url=store_url, mappings_dir=mappings), Store(store_url)
    )


def test_remap_compares_a_split_follow_up_as_a_whole_version(cluster, store_url, tmp_path, monkeypatch):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    mappings = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, mappings)
    app = cluster.motcua.app
    dossier_id = app.dossier_id(0)
    sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_id}/steps", {"count": 23})
    code = app.get_dossier(dossier_id)["code"]
    gateway = _gateway(store_url, tmp_path, mappings)
    try:
        first = gateway.run(ROUTE)
        assert first.checks() == []
        assert [(r.item_count, r.state) for r in _progress_rows(gateway, code)] == [
            (10, states.ACKNOWLEDGED),
            (10, states.ACKNOWLEDGED),
            (3, states.ACKNOWLEDGED),
        ]

        # Nothing changed: the acknowledged parts are the whole follow-up; nothing is queued or sent.
        same = remap(gateway, Selection(ROUTE, keys=(code,)))
        assert same.checked == 1 and same.changed == [] and same.queued_rows == 0
        assert len(_progress_rows(gateway, code)) == 3
    finally:
        gateway.store.dispose()

    # A code-list fix for the steps' status: every part differs, all three are queued again and sent.
    path = mappings / "codelists" / "task_status.csv"
    text = path.read_text(encoding="utf-8")
    assert "\n2,Hoàn thành,2" in text, "the task status code list changed shape"
    path.write_text(text.replace("\n2,Hoàn thành,2", "\n2,Hoàn thành,3"), encoding="utf-8")
    gateway = _gateway(store_url, tmp_path, mappings)
    try:
        done = remap(gateway, Selection(ROUTE, keys=(code,)))
        assert [c.outputs for c in done.changed] == [[f"dvcqg.{PROGRESS}"]]
        assert done.queued_rows == 3 and done.left_undelivered == 0
        rows = _progress_rows(gateway, code)
        assert [(r.item_count, r.state) for r in rows[3:]] == [(10, states.ACKNOWLEDGED)] * 2 + [
            (3, states.ACKNOWLEDGED)
        ]
        assert rows[4].parent_id == rows[3].id and rows[5].parent_id == rows[4].id
        steps = received(cluster.dvcqg, mahoso=code)["progress"][code]
        assert [s["data"]["TrangThai"] for s in steps[-23:]] == ["3"] * 23

        # Remapped again under the same mapping: the new acknowledged version is the whole follow-up.
        again = remap(gateway, Selection(ROUTE, keys=(code,)))
        assert again.changed == [] and again.queued_rows == 0 and len(_progress_rows(gateway, code)) == 6
    finally:
        gateway.store.dispose()
