""" "Newer" is the key's latest staged version (issue #17 note): content going A -> B -> A is staged
again, so the target ends with A.  On SQLite and PostgreSQL, through the simulators."""

from __future__ import annotations

from sqlalchemy import select

from lienthong import states
from lienthong.store.models import StagedRecord
from tests.lifecycle.conftest import received, sim_post


def test_a_record_going_back_to_an_earlier_content_reaches_the_target(cluster, gateway):
    app = cluster.motcua.app
    dossier_id = app.dossier_id(3)
    version_a = app.update_dossier(dossier_id, summary="Phiên bản A")
    assert gateway.run("dossier_sync").checks() == []
    code = version_a["code"]
    assert received(cluster.dvcqg)["dossiers"][code]["data"]["TrichYeuHoSo"] == "Phiên bản A"

    app.update_dossier(dossier_id, summary="Phiên bản B")
    assert gateway.run("dossier_sync").checks() == []
    assert received(cluster.dvcqg)["dossiers"][code]["data"]["TrichYeuHoSo"] == "Phiên bản B"

    # The source is restored from a backup: version A again, byte for byte (its own updatedDate).
    sim_post(cluster.motcua, f"/_sim/dossiers/{dossier_id}/restore", {"dossier": version_a})
    assert gateway.run("dossier_sync").extract.pulled == 0  # older than the watermark: a resync finds it
    resync = gateway.run("dossier_sync", since=version_a["updatedDate"])
    assert resync.status == "succeeded" and resync.checks() == []
    assert resync.extract.staged == 1 and resync.transform.mapped == 1
    assert received(cluster.dvcqg)["dossiers"][code]["data"]["TrichYeuHoSo"] == "Phiên bản A"

    with gateway.store.session() as session:
        versions = session.execute(
            select(StagedRecord.content_hash, StagedRecord.state)
            .where(StagedRecord.record_key == code)
            .order_by(StagedRecord.id)
        ).all()
    hashes = [row.content_hash for row in versions[-3:]]
    assert hashes[2] == hashes[0] + "#2"  # the same content, returning: unique per (key, hash)
    assert [row.state for row in versions[-3:]] == [states.MAPPED] * 3

    # Pulled again, A is now the latest version: unchanged, nothing sent.
    again = gateway.run("dossier_sync", since=version_a["updatedDate"])
    assert again.extract.staged == 0 and again.deliver.calls == 0
