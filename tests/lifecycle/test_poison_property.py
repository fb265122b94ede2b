"""Property: whatever JSON a source sends, staging and mapping never raise, and every record ends
mapped, filtered, unchanged or quarantined (issue #17 item 1), on SQLite and PostgreSQL.

Records are the shipped fixtures with hostile values put at hostile places (lone surrogates, NUL,
control characters, noncharacters, long and empty keys, deep nesting, objects where text is
expected, non-objects), through the real ``stage_page`` and ``transform`` of the ``dossier_sync``
and ``birth_bhyt`` routes.  50 examples per backend.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lienthong import states
from lienthong.pipeline.extract import _pulled
from lienthong.pipeline.runner import Gateway
from lienthong.pipeline.transform import transform
from lienthong.settings import PACKAGE_ROOT, Settings
from lienthong.store import Store
from lienthong.store.models import QuarantineEntry, StagedRecord
from lienthong.store.staging import stage_page

hypothesis = pytest.importorskip("hypothesis")  # the dev extra installs it
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BASES = [
    json.loads((FIXTURES / f"{name}.json").read_text("utf-8")) for name in ("dossier_normal", "dossier_birth")
]
NASTY = [
    "\x00",
    "\ud800",
    "\udfff",
    "\udcff",
    "\x01",
    "\x1b",
    "\x7f",
    "\u0085",
    "\ufffe",
    "\uffff",
    "\u202e",
    "\u0301",
]
PLACES = [
    ("code",),
    ("summary",),
    ("id",),
    ("updatedDate",),
    ("eForm",),
    ("agency", "code"),
    ("applicant", "data", "fullname"),
    ("applicant", "data", "identityNumber"),
    ("dossierStatus", "id"),
    ("procedure", "nationCode"),
    ("tasks",),
]

text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=40) | st.builds(
    lambda c, n: c * n, st.sampled_from(["K", "\x00", "đ"]), st.integers(0, 600)
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
deep = st.integers(60, 300).map(lambda n: _nest(n))


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"x": value}
    return value


@st.composite
def records(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(values)  # not even an object
    record = copy.deepcopy(draw(st.sampled_from(BASES)))
    record["id"] = draw(st.from_regex(r"[0-9a-f]{24}", fullmatch=True))
    for _ in range(draw(st.integers(0, 3))):
        place = draw(st.sampled_from(PLACES))
        node = record
        for part in place[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[place[-1]] = draw(values | deep)
    for _ in range(draw(st.integers(0, 2))):
        record[draw(text)] = draw(values)
    return record


@pytest.fixture()
def gateway(store_url, tmp_path):
    settings_ = Settings(data_dir=tmp_path, database_url=store_url, mappings_dir=PACKAGE_ROOT / "mappings")
    gw = Gateway(settings_, Store(store_url))
    gw.compiled = {}  # compiled once per test, not per example
    yield gw
    gw.store.dispose()


@settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    page=st.lists(records(), min_size=1, max_size=4),
    route_name=st.sampled_from(["dossier_sync", "birth_bhyt"]),
)
def test_no_record_stops_staging_or_mapping(gateway, page, route_name):
    if route_name not in gateway.compiled:
        loaded = gateway.route(route_name)
        gateway.compiled[route_name] = (loaded, loaded.compile(), gateway.target_specs_for(loaded))
    route, compiled, specs = gateway.compiled[route_name]
    store = gateway.store
    with store.session() as session:
        before = session.execute(select(func.coalesce(func.max(StagedRecord.id), 0))).scalar_one()

    pulled = [_pulled(compiled, record) for record in page]
    staged, unchanged = stage_page(store, route_name, pulled, None, None)
    assert staged + unchanged == len(page)
    result = transform(store, route, compiled, specs, None)
    assert result.processed == staged
    assert result.mapped + result.filtered + result.quarantined + result.unchanged == staged

    with store.session() as session:
        rows = session.execute(select(StagedRecord).where(StagedRecord.id > before)).scalars().all()
        quarantined = set(
            session.execute(
                select(QuarantineEntry.staged_id).where(QuarantineEntry.staged_id > before)
            ).scalars()
        )
    assert len(rows) == staged
    for row in rows:
        assert row.state in (states.MAPPED, states.FILTERED, states.QUARANTINED, states.UNCHANGED)
        assert (row.state == states.QUARANTINED) == (row.id in quarantined)
        assert len(row.record_key) <= 200 and "\x00" not in row.record_key
