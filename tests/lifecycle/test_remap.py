"""Remap (issue #17, item 3): a code-list fix reaches the dossiers already delivered, exactly those it
changes, once; a dry run counts and shows (masked) without sending; status shows the figure.  On SQLite
and PostgreSQL, against the simulators over HTTP."""

from __future__ import annotations

import json

from sqlalchemy import select

from lienthong import states
from lienthong.remap import stale_mapping_counts
from lienthong.status import gateway_status
from lienthong.store.models import LedgerEntry, OutboxRow, StagedRecord
from tests.lifecycle import settle_env
from tests.lifecycle.settle_env import received, set_status_code

ROUTE = "dossier_sync"
env_factory, mappings = settle_env.env_factory, settle_env.mappings  # the fixtures


def _status_of_each(gateway) -> dict[str, int]:
    """The one-stop status id of each dossier's latest staged version, by dossier code."""
    with gateway.store.session() as session:
        rows = session.execute(
            select(StagedRecord).where(StagedRecord.route == ROUTE).order_by(StagedRecord.id)
        ).scalars()
        return {row.record_key: json.loads(row.body)["dossierStatus"]["id"] for row in rows}


def _drift(gateway) -> dict | None:
    (route,) = [r for r in gateway_status(gateway)["routes"] if r["route"] == ROUTE]
    return route["mapping_drift"]


def test_a_code_list_fix_rewrites_exactly_the_affected_dossiers_once(env_factory):
    env = env_factory(total=40, mess_rate=0.0)
    set_status_code(env.mappings, 3, 5)  # the bug: "Đang xử lý" sent as "Yêu cầu bổ sung giấy tờ"
    first = env.new_gateway().run(ROUTE, wait_for_retries=0)
    assert first.checks() == []
    statuses = _status_of_each(env.gateway)
    affected = sorted(key for key, status in statuses.items() if status == 3)
    assert 0 < len(affected) < len(statuses), "the seed gives no dossier in status 3; adapt the test"
    portal = env.portal()
    assert len(portal) == len(statuses)
    assert all(portal[key]["data"]["TrangThaiHoSo"] == "5" for key in affected)

    set_status_code(env.mappings, 3, 4)  # the fix
    # resync finds every record unchanged at the source: nothing would reach the portal without remap.
    dry = env.cli_json("remap", ROUTE, "--dry-run")
    assert dry["dry_run"] is True and dry["would_change"] == len(affected) and dry["checked"] == len(statuses)
    assert dry["examples"] and all(e["record_key"] in affected for e in dry["examples"])
    assert dry["examples"][0]["diff"]["TrangThaiHoSo"] == ["5", "4"]
    assert env.portal() == portal  # a dry run sends nothing
    with env.gateway.store.session() as session:
        assert {row.state for row in session.execute(select(OutboxRow)).scalars()} == {states.ACKNOWLEDGED}
    assert stale_mapping_counts(env.gateway.store, ROUTE) == len(affected)
    drift = _drift(env.gateway)
    assert drift["would_change"] == len(affected) and drift["current"] is True
    shown = " ".join(env.cli("status").output.split())
    assert f"{ROUTE}: {len(affected)} delivered record(s) sent under an older mapping would change" in shown
    text = " ".join(env.cli("remap", ROUTE, "--dry-run").output.split())
    assert f"{len(affected)} would change" in text and 'TrangThaiHoSo: "5" → "4"' in text

    done = env.cli_json("remap", ROUTE, "--actor", "kiem-thu")
    assert done["changed"] == len(affected) and done["queued_rows"] == len(affected)
    assert done["left_undelivered"] == 0 and done["run"]["status"] == "succeeded"
    after = env.portal()
    for key in statuses:
        entry = after[key]
        if key in affected:
            assert (entry["writes"], entry["repeats"], entry["data"]["TrangThaiHoSo"]) == (2, 0, "4"), key
        else:
            assert (entry["writes"], entry["repeats"]) == (1, 0), key
            assert entry["data"] == portal[key]["data"]
    with env.gateway.store.session() as session:
        rows = session.execute(
            select(OutboxRow.record_key, OutboxRow.seq, OutboxRow.state).where(
                OutboxRow.operation == "DongBoHoSoMC"
            )
        ).all()
        remapped = session.execute(
            select(LedgerEntry.record_key, LedgerEntry.actor).where(LedgerEntry.event == "remapped")
        ).all()
        staged_states = {row.state for row in session.execute(select(StagedRecord)).scalars()}
    assert sorted(key for key, seq, _ in rows if seq == 2) == affected
    assert {state for *_, state in rows} == {states.ACKNOWLEDGED}
    assert sorted(key for key, _ in remapped) == affected and {a for _, a in remapped} == {"kiem-thu"}
    assert staged_states == {states.MAPPED}  # past versions keep their state: nothing was re-staged
    assert stale_mapping_counts(env.gateway.store, ROUTE) == 0

    # A second remap finds nothing to do and sends nothing.
    again = env.cli_json("remap", ROUTE)
    assert again["changed"] == 0 and again["queued_rows"] == 0 and again["run"] is None
    assert env.portal() == after

    # A new mapping version (a comment is enough) makes the last figure out of date, and says so.
    route_file = env.mappings / f"{ROUTE}.yaml"
    route_file.write_text(route_file.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    env.new_gateway().run(ROUTE, wait_for_retries=0)
    assert _drift(env.gateway)["current"] is False
    assert "out of date" in " ".join(env.cli("status").output.split())


def test_remap_by_key_and_since_touches_only_the_selection(env_factory):
    env = env_factory(total=40, mess_rate=0.0)
    set_status_code(env.mappings, 3, 5)
    env.new_gateway().run(ROUTE, wait_for_retries=0)
    statuses = _status_of_each(env.gateway)
    affected = sorted(key for key, status in statuses.items() if status == 3)
    assert len(affected) >= 2, "the seed gives too few dossiers in status 3; adapt the test"
    set_status_code(env.mappings, 3, 4)
    portal = env.portal()

    picked = env.cli_json("remap", ROUTE, "--key", affected[0], "--key", "no-such-dossier")
    assert picked["checked"] == 1 and picked["changed"] == 1
    assert env.portal()[affected[0]]["writes"] == 2
    assert all(env.portal()[key]["writes"] == 1 for key in affected[1:])
    # A partial selection does not record a route-wide figure.
    assert _drift(env.gateway) is None

    future = env.cli_json("remap", ROUTE, "--since", "2999-01-01T00:00:00")
    assert future["checked"] == 0 and future["changed"] == 0
    assert sum(e["writes"] for e in env.portal().values()) == sum(e["writes"] for e in portal.values()) + 1


def test_the_dry_run_diff_masks_identity_and_phone_numbers_and_hides_names():
    from lienthong.remap import masked_diff

    old = {
        "TrangThaiHoSo": "5",
        "SoDinhDanh": "001090012345",
        "HoTen": "Nguyễn Văn An",
        "SoDienThoai": "0912345678",
    }
    new = {
        "TrangThaiHoSo": "4",
        "SoDinhDanh": "001090012346",
        "HoTen": "Nguyễn Văn Ân",
        "SoDienThoai": "0912345679",
    }
    diff = masked_diff(old, new)
    assert diff["TrangThaiHoSo"] == ["5", "4"]
    assert diff["HoTen"] == ["‹changed›", "‹changed›"]
    shown = json.dumps(diff, ensure_ascii=False)
    for secret in (*old.values(), *new.values()):
        if secret not in ("5", "4"):
            assert secret not in shown
    assert masked_diff(old, old) == {}


def test_remap_of_a_target_without_update_puts_the_new_versions_in_review_and_sends_nothing(env_factory):
    """BHXH's child-card registration has no update (``on_change: review``): remap queues the corrected
    registrations to review for a person, and the registry receives nothing."""
    env = env_factory(total=150, mess_rate=0.0)
    route = env.mappings / "birth_bhyt.yaml"
    good = route.read_text(encoding="utf-8")
    assert "{truncate: 500}" in good, "the address rule changed; adapt the test"
    route.write_text(good.replace("{truncate: 500}", "{truncate: 10}"), encoding="utf-8")  # the bug
    first = env.new_gateway().run("birth_bhyt", wait_for_retries=0)
    registered = received(env.cluster.bhxh)["registrations"]
    assert first.checks() == [] and len(registered) >= 1, "no birth registration in this seed; adapt the test"

    with env.gateway.store.session() as session:
        bodies = {
            row.record_key: json.loads(row.body)
            for row in session.execute(
                select(StagedRecord).where(StagedRecord.route == "birth_bhyt")
            ).scalars()
        }
    addresses = {
        key: json.loads(bodies[key]["eForm"])["hoTich"]["noiCuTru"]["diaChiChiTiet"] for key in registered
    }
    affected = sorted(key for key, address in addresses.items() if len((address or "").strip()) > 10)
    assert affected, "no registration with a long address; adapt the test"

    route.write_text(good, encoding="utf-8")  # the fix
    done = env.cli_json("remap", "birth_bhyt")
    assert done["changed"] == done["review_rows"] == len(affected)
    assert received(env.cluster.bhxh)["registrations"] == registered  # nothing sent
    with env.gateway.store.session() as session:
        rows = session.execute(
            select(OutboxRow.record_key, OutboxRow.seq, OutboxRow.state).where(
                OutboxRow.route == "birth_bhyt"
            )
        ).all()
    assert sorted(key for key, seq, state in rows if (seq, state) == (2, states.REVIEW)) == affected
    assert sorted(key for key, seq, state in rows if (seq, state) == (1, states.ACKNOWLEDGED)) == sorted(
        registered
    )
    assert len(rows) == len(registered) + len(affected)
