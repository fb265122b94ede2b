"""The motcua additions to the ``/_sim/`` control API, so tests in another process can change the data.

- ``POST /_sim/dossiers`` ``{"append": n}`` -> ``{"appended": [ids]}``
- ``GET /_sim/dossiers/{id}`` -> ``{"dossier": ..., "index": i, "mess_kind": ...}`` (no token needed)
- ``POST /_sim/dossiers/{id}`` with a JSON merge patch -> ``{"dossier": ...}`` (new ``updatedDate``)
- ``POST /_sim/dossiers/{id}/withdraw`` -> ``{"dossier": ...}`` (status 6)
- ``POST /_sim/dossiers/{id}/poison`` ``{"kind": "nul_key"}`` (``bytes`` for ``huge``, ``depth`` for
  ``deep``) -> ``{"dossier": id, "poison": ...}``: served as hostile data from now on (``poison.py``)
- ``POST /_sim/dossiers/{id}/steps`` ``{"count": n}`` -> ``{"dossier": ...}``: n finished steps
- ``POST /_sim/dossiers/{id}/restore`` ``{"dossier": {...}}`` -> ``{"dossier": ...}``: a former version
  served again at its own ``updatedDate`` (a source restored from a backup; a resync sees it)
- ``DELETE /_sim/dossiers/{id}`` -> ``{"deleted": id}``
- ``GET /_sim/mess?kind=identity_length&limit=5&start=0`` -> ``{"kind", "ids"}``; without ``kind``:
  the mess settings and the kind of each of the first ``limit`` dossiers that have one
- ``POST /_sim/procedures/{id}`` with a JSON merge patch -> ``{"procedure": ...}``

Unknown ids answer 404; malformed bodies 400.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from simulators.motcua.mess import MESS_KINDS
from simulators.server import BadRequest, SimRequest, SimResponse

if TYPE_CHECKING:
    from simulators.motcua.app import MotcuaApp

_DOSSIER = re.compile(r"^/_sim/dossiers/([^/]+)(/withdraw|/poison|/steps|/restore)?$")
_PROCEDURE = re.compile(r"^/_sim/procedures/([^/]+)$")


def handle(app: MotcuaApp, request: SimRequest) -> SimResponse | None:
    """Answer a motcua control request, or None to let the shared control API answer."""
    try:
        return _route(app, request)
    except (BadRequest, ValueError, TypeError) as exc:
        return SimResponse.json({"error": "bad_request", "message": str(exc)}, 400)


def _not_found(what: str, ident: str) -> SimResponse:
    return SimResponse.json({"error": "not_found", "message": f"no {what} {ident}"}, 404)


def _object(request: SimRequest) -> dict[str, Any]:
    body = request.json() if request.body else {}
    if not isinstance(body, dict):
        raise BadRequest("a JSON object is expected")
    return body


def _patch(request: SimRequest) -> dict[str, Any]:
    patch = request.json()
    if not isinstance(patch, dict):
        raise BadRequest("a JSON object (merge patch) is expected")
    if "updatedDate" in patch or "id" in patch:
        raise BadRequest("id and updatedDate are set by the simulator, not by a patch")
    return patch


def _route(app: MotcuaApp, request: SimRequest) -> SimResponse | None:
    path, method = request.path, request.method
    if path == "/_sim/dossiers" and method == "POST":
        body = request.json()
        count = body.get("append") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            raise BadRequest('expected {"append": n} with 0 <= n <= 100000')
        return SimResponse.json({"appended": app.append_dossiers(count)})
    match = _DOSSIER.match(path)
    if match:
        dossier_id, withdraw = match.group(1), match.group(2)
        if method == "GET" and not withdraw:
            dossier = app.get_dossier(dossier_id)
            if dossier is None:
                return _not_found("dossier", dossier_id)
            index = app.index_of(dossier_id)
            kind = app.mess_kind(index) if index is not None else None
            return SimResponse.json({"dossier": dossier, "index": index, "mess_kind": kind})
        if method == "POST":
            try:
                if withdraw == "/withdraw":
                    record = app.withdraw_dossier(dossier_id)
                elif withdraw == "/poison":
                    options = _object(request)
                    record = app.poison_dossier(dossier_id, options.pop("kind", None), **options)
                elif withdraw == "/restore":
                    record = app.restore_dossier(dossier_id, _object(request).get("dossier"))
                elif withdraw == "/steps":
                    record = app.set_steps(dossier_id, _object(request).get("count"))
                else:
                    record = app.update_dossier(dossier_id, **_patch(request))
            except KeyError:
                return _not_found("dossier", dossier_id)
            if withdraw == "/poison":
                return SimResponse.json({"dossier": record["id"], "poison": record["_poison"]})
            return SimResponse.json({"dossier": record})
        if method == "DELETE" and not withdraw:
            if not app.delete_dossier(dossier_id):
                return _not_found("dossier", dossier_id)
            return SimResponse.json({"deleted": dossier_id})
        return SimResponse.json({"error": "method_not_allowed"}, 405)
    if path == "/_sim/mess" and method == "GET":
        return _mess(app, request)
    match = _PROCEDURE.match(path)
    if match and method == "POST":
        try:
            return SimResponse.json({"procedure": app.update_procedure(match.group(1), **_patch(request))})
        except KeyError:
            return _not_found("procedure", match.group(1))
    return None


def _mess(app: MotcuaApp, request: SimRequest) -> SimResponse:
    try:
        limit = int(request.arg("limit") or 10)
        start = int(request.arg("start") or 0)
    except ValueError:
        raise BadRequest("limit and start must be integers") from None
    limit = max(1, min(limit, 10_000))
    kind = request.arg("kind")
    if kind:
        if kind not in MESS_KINDS:
            raise BadRequest(f"unknown mess kind {kind!r}; known: {', '.join(MESS_KINDS)}")
        return SimResponse.json({"kind": kind, "ids": app.find_mess(kind, limit=limit, start=start)})
    found = []
    generator = app.generator
    for index in range(start, generator.count):
        mess = generator.mess_kind(index)
        if mess:
            found.append({"id": generator.dossier_id(index), "index": index, "kind": mess})
            if len(found) >= limit:
                break
    return SimResponse.json({
        "mess_rate": generator.mess.rate, "mess_kinds": list(generator.mess.kinds), "dossiers": found,
    })
