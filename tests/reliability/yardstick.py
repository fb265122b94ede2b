"""The source and the target as the yardstick: checks that do not trust the gateway's own outbox.

``checks.py`` compares the portal with the outbox: it proves the outbox's versions arrived once each,
but an outbox that never held the newest version (an update skipped) or a sender that resends what
already arrived (the portal counts a write only when content changes) passes it.  These checks read
the two sides the gateway sits between:

* :func:`source_problems`: per key, the one-stop system's record *now* against what the portal holds:
  every key the source has is at the portal, with the latest source version's content (compared on
  fields mapped without any engine code: the code, the summary, the procedure name and the status
  through the province's code list), and the versions arrived in order (the effective writes' summaries
  follow the order in which the test edited them; none older after a newer one).
* :func:`repeat_problems`: what the portal counted as redundant (exact repeats, ``-3`` "exists"
  answers) against what the faults made it lose (answers of requests that took effect and never
  reached the gateway, counted in items by the portal and the fault injector).  A gateway that resends
  only what it could not know was applied stays within the lost answers; one that sends twice does not.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

from lienthong.settings import PACKAGE_ROOT
from simulators.cluster import MOTCUA_CLIENT_ID, MOTCUA_CLIENT_SECRET

TOKEN_PATH = "/auth/realms/digo/protocol/openid-connect/token"
SEARCH_PATH = "/pa/dossier/search"
PAGE_SIZE = 500
DOSSIER_OP = "DongBoHoSoMC"
PROGRESS_OP = "CapNhatTienDoHoSoMC"
LOOKUP_OP = "TraCuuHoSo"

#: Repeats and ``-3`` answers allowed beyond the lost answers the portal and the injector counted.
#: One case is invisible to the portal: the answer was written to the socket, and the client had
#: already given up (its read timeout fired a moment before) or its process was killed before it
#: recorded the answer.  The crash test counts the second from the store (rows in flight at each
#: kill); the first needs a processing time at the portal longer than the read timeout, rare on an
#: idle machine, so the allowance is small, fixed, and far below what one resent batch adds (20+).
ALLOWANCE = 3


def read_source(url: str, timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Every dossier the one-stop simulator serves now, by its code, read over its public API.

    (Not through the gateway's connector: the yardstick must not share code with what it measures.)
    The caller turns the source's injected faults off first."""
    with requests.Session() as http:
        token = http.post(
            url + TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": MOTCUA_CLIENT_ID,
                "client_secret": MOTCUA_CLIENT_SECRET,
            },
            timeout=timeout,
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        records: dict[str, dict[str, Any]] = {}
        page = 0
        while True:
            answer = http.get(
                url + SEARCH_PATH,
                params={"page": page, "size": PAGE_SIZE, "sort": "updatedDate,asc"},
                headers=headers,
                timeout=timeout,
            )
            answer.raise_for_status()
            content = answer.json()["content"]
            for record in content:
                records[str(record["code"]).strip()] = record
            if len(content) < PAGE_SIZE:
                return records
            page += 1


def _text(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value)).strip() if value is not None else ""


def _status_codes() -> dict[str, str]:
    """The province's code list, read as data (one-stop status id → portal TrangThaiHoSo)."""
    path = Path(PACKAGE_ROOT) / "mappings" / "codelists" / "motcua_status.csv"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return {row["id"]: row["TrangThaiHoSo"] for row in csv.DictReader(lines)}


def expected_fields(record: dict[str, Any], statuses: dict[str, str]) -> dict[str, str]:
    """The portal fields of one source record that can be derived without the mapping engine."""
    status = (record.get("dossierStatus") or {}).get("id")
    return {
        "MaHoSo": _text(record.get("code")),
        "TrichYeuHoSo": _text(record.get("summary"))[:1000],
        "TenTTHC": _text((record.get("procedure") or {}).get("name")),
        "TrangThaiHoSo": statuses.get(str(status), f"(status {status} not in the code list)"),
    }


def source_problems(
    source: dict[str, dict[str, Any]],
    portal: dict[str, Any],
    edits: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """What the portal (``received(history=True)``) gets wrong against the source, by kind of problem.

    ``edits``: per key, the summaries the test gave the record, in order; the effective writes at the
    portal must follow that order (a write of an older summary after a newer one is out of order) and
    the last must be the newest.  Messages name keys and field names only, never values (personal data).
    """
    statuses = _status_codes()
    held = portal.get("dossiers") or {}
    missing, stale, disorder = [], [], []
    for key, record in source.items():
        entry = held.get(key)
        if entry is None:
            missing.append(key)
            continue
        want = expected_fields(record, statuses)
        wrong = sorted(name for name, value in want.items() if _text(entry["data"].get(name)) != value)
        if wrong:
            stale.append(f"{key}: {', '.join(wrong)} differ from the source's latest version")
        order = (edits or {}).get(key)
        if order and "history" in entry:
            disorder += _order_problems(key, [_text(d.get("TrichYeuHoSo")) for d in entry["history"]], order)
    foreign = sorted(set(held) - set(source))
    found = {
        "source keys missing at the portal": missing,
        "portal content older than the source's latest version": stale,
        "versions applied out of order": disorder,
        "portal keys the source does not have": foreign,
    }
    return {
        name: problems[:10] + ([f"... {len(problems)} in all"] if len(problems) > 10 else [])
        for name, problems in found.items()
        if problems
    }


def _order_problems(key: str, written: list[str], edited: list[str]) -> list[str]:
    """The summaries written, in order, against the summaries given at the source, in order."""
    position = {_text(summary): i for i, summary in enumerate(edited)}
    unknown = [i for i, summary in enumerate(written) if summary not in position]
    if unknown:
        return [f"{key}: effective write {unknown[0] + 1} carries a summary the source never had"]
    steps = [position[summary] for summary in written]
    if any(later < earlier for earlier, later in zip(steps, steps[1:], strict=False)):
        return [f"{key}: source versions written in the order {[s + 1 for s in steps]}"]
    return []


def lost_answers(portal: dict[str, Any]) -> dict[str, int]:
    """Items per service whose request took effect and whose answer the portal could not deliver."""
    return dict((portal.get("totals") or {}).get("answers_lost") or {})


def repeat_figures(portal: dict[str, Any], extra_lost: dict[str, int] | None = None) -> dict[str, int]:
    """Redundant sends the portal counted, and the lost answers that can explain them.

    ``extra_lost``: lost answers the portal cannot see, counted by the caller (items in flight under a
    process at the moment it was killed)."""
    totals = portal.get("totals") or {}
    lost = lost_answers(portal)
    for service, items in (extra_lost or {}).items():
        lost[service] = lost.get(service, 0) + items
    return {
        "dossier_repeats": int(totals.get("dossier_repeats", 0)),
        "exists_answers": int((portal.get("rejected") or {}).get("-3", 0)),
        "progress_repeats": int(totals.get("progress_repeats", 0)),
        # A lost lookup answer leaves the outcome of a write unknown, as a lost write answer does.
        "dossier_answers_lost": lost.get(DOSSIER_OP, 0) + lost.get(LOOKUP_OP, 0),
        "progress_answers_lost": lost.get(PROGRESS_OP, 0),
    }


def repeat_problems(figures: dict[str, int], allowance: int = ALLOWANCE) -> list[str]:
    """Repeats beyond what the lost answers (plus ``allowance``) explain; none when nothing was lost."""
    problems = []
    dossier = figures["dossier_repeats"] + figures["exists_answers"]
    if dossier > figures["dossier_answers_lost"] + allowance:
        problems.append(
            f"dossiers: {figures['dossier_repeats']} exact repeats + {figures['exists_answers']} '-3' answers"
            f" > {figures['dossier_answers_lost']} lost answers + {allowance}"
        )
    if figures["progress_repeats"] > figures["progress_answers_lost"] + allowance:
        problems.append(
            f"progress: {figures['progress_repeats']} exact repeats"
            f" > {figures['progress_answers_lost']} lost answers + {allowance}"
        )
    return problems


def items_of(payloads: Iterable[str]) -> int:
    """Items the portal would count for these outbox payloads (a list is one item per element)."""
    import json

    count = 0
    for payload in payloads:
        data = json.loads(payload)
        count += len(data) if isinstance(data, list) else 1
    return count
