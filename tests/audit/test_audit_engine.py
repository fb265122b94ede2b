"""The ledger through the real engine against the simulators: a dossier that was retried, died and
was replayed shows every step in order (``lienthong audit show``), the ledger verifies, and an
unmasked view is itself recorded."""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, text

from lienthong import states
from lienthong.cli import main
from lienthong.store.models import LedgerEntry
from tests.integration.test_guarantees import edit_yaml, gateway_on, mappings  # noqa: F401 - fixture


def _faults(cluster, **config) -> None:
    requests.post(f"{cluster.dvcqg.url}/_sim/faults", json=config, timeout=5).raise_for_status()


@pytest.mark.motcua(total=60)
def test_a_retried_dead_and_replayed_dossier_shows_every_step_in_order(
    cluster,
    mappings,  # noqa: F811 - the fixture imported above
    tmp_path,
    monkeypatch,
):
    for name, value in cluster.connection_env().items():
        monkeypatch.setenv(name, value)
    edit_yaml(mappings / "dossier_sync.yaml", lambda route: route["target"].pop("schema"))
    codes = mappings / "codelists" / "motcua_status.csv"
    good = codes.read_text(encoding="utf-8")
    codes.write_text(
        "\n".join(
            line.rsplit(",", 1)[0] + ",44" if line.startswith("3,") else line for line in good.splitlines()
        )
        + "\n",
        encoding="utf-8",
    )
    store_url = f"sqlite:///{tmp_path / 'g.db'}"
    gateway = gateway_on(mappings, store_url)

    # 1. The portal fails the first batch three times (every in-call attempt): scheduled for a retry;
    #    the portal refuses status 44 for good in the other batches (dead).
    _faults(cluster, script=["http_503"] * 3, paths=["/api/service"])
    first = gateway.run("dossier_sync", wait_for_retries=0, concurrency=1)
    assert first.rows[states.RETRY_SCHEDULED] > 0 and first.checks() == []
    # 2. The retry goes out: its status-44 dossiers die too.
    second = gateway.run("dossier_sync", wait_for_retries=15)
    assert second.backlog[states.DEAD] > 0 and second.backlog[states.RETRY_SCHEDULED] == 0
    # 3. The code list is fixed and the dead letters are replayed with a new mapping.
    codes.write_text(good, encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", store_url)
    monkeypatch.setenv("LIENTHONG_MAPPINGS", str(mappings))
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    replay = CliRunner().invoke(
        main,
        ["dead", "replay", "--route", "dossier_sync", "--remap", "--actor", "kiem-thu", "--note", "sửa mã"],
    )
    assert replay.exit_code == 0, replay.output

    with gateway.store.session() as session:
        keys = {
            outcome: set(
                session.execute(
                    select(LedgerEntry.record_key).where(
                        LedgerEntry.event == "attempt", LedgerEntry.outcome == outcome
                    )
                ).scalars()
            )
            for outcome in ("dead", "retry_scheduled")
        }
    assert keys["dead"] & keys["retry_scheduled"], "no status-3 dossier in the first batch: change the seed"
    dossier = sorted(keys["dead"] & keys["retry_scheduled"])[0]
    shown = CliRunner().invoke(main, ["audit", "show", dossier, "--json"])
    assert shown.exit_code == 0, shown.output
    steps = json.loads(shown.output)
    seqs = [s["seq"] for s in steps]
    assert seqs == sorted(seqs)
    story = [(s["event"], s["outcome"]) for s in steps]
    expected = [
        ("pulled", "staged"),
        ("mapped", "mapped"),
        ("attempt", "retry_scheduled"),  # one entry per attempt: its outcome is the row's new state
        ("attempt", "dead"),
        ("replayed", "remap"),
        ("mapped", "mapped"),
        ("attempt", "acknowledged"),
    ]
    assert not {event for event, _ in story} & {"acknowledged", "retry_scheduled", "dead"}
    retried = next(s for s in steps if s["event"] == "attempt" and s["outcome"] == "retry_scheduled")
    assert retried["detail"]["next_attempt_at"]  # when the retry falls due, in the same entry
    remaining = iter(story)  # in this order (progress rows of the same dossier add their own steps)
    assert all(step in remaining for step in expected), story
    by_event = {}
    for step in steps:
        by_event.setdefault(step["event"], []).append(step)
    first_map, remap = by_event["mapped"][0], by_event["mapped"][-1]
    assert first_map["mapping_version"] != remap["mapping_version"]  # the fix is a new mapping version
    row = first_map["detail"]["rows"][0]
    assert row["payload"]["MaHoSo"] == dossier and row["payload"]["TrangThaiHoSo"] == "44"
    attempts = by_event["attempt"]
    assert (
        attempts[0]["detail"]["calls"] == 3
        and attempts[0]["detail"]["request_digest"] == row["payload_digest"]
    )
    assert "TrangThaiHoSo" in attempts[1]["detail"]["error"] and attempts[1]["response"] is not None
    assert attempts[-1]["response"] is not None and attempts[-1]["outcome"] == "acknowledged"
    replayed = by_event["replayed"][0]
    assert replayed["actor"] == "kiem-thu" and replayed["detail"]["note"] == "sửa mã"

    # Personal data: masked by default in the payload shown, never in the ledger itself.
    identity = _identity_of(gateway, dossier)
    if identity:
        assert identity not in shown.output
        with gateway.store.engine.connect() as connection:
            dump = " ".join(str(r) for r in connection.execute(text("SELECT * FROM audit_ledger")).all())
            raw_outbox = " ".join(
                str(r) for r in connection.execute(text("SELECT payload FROM outbox")).all()
            )
        assert identity not in dump and identity not in raw_outbox
        # (through the function `audit show --unmask` calls: the suite's log scan reads every CLI output)
        from lienthong.audit.lineage import lineage

        unmasked = lineage(gateway.store, dossier, unmask=True, actor="thanh-tra")
        assert identity in json.dumps(unmasked, ensure_ascii=False)
    with gateway.store.session() as session:
        unmask = session.execute(select(LedgerEntry).where(LedgerEntry.event == "unmask")).scalars().all()
        changes = (
            session.execute(
                select(LedgerEntry.outcome)
                .where(LedgerEntry.event == "mapping_change")
                .order_by(LedgerEntry.seq)
            )
            .scalars()
            .all()
        )
    assert changes == ["first", "changed"]
    if identity:
        assert [(u.record_key, u.actor) for u in unmask] == [(dossier, "thanh-tra")]

    # Checkpoints were signed at the end of every run; the whole ledger verifies.
    verified = CliRunner().invoke(main, ["audit", "verify", "--json"])
    assert verified.exit_code == 0, verified.output
    result = json.loads(verified.output)
    assert result["ok"] and result["checkpoints"] >= 3


def _identity_of(gateway, dossier: str) -> str | None:
    from lienthong.store.models import StagedRecord

    with gateway.store.session() as session:
        body = (
            session.execute(select(StagedRecord.body).where(StagedRecord.record_key == dossier))
            .scalars()
            .first()
        )
    number = json.loads(body).get("applicant", {}).get("data", {}).get("identityNumber")
    return number if number and len(str(number)) == 12 else None
