"""The declarative mapping engine: route files in ``mappings/`` -> compiled, pure record mappers.

Usage (once per run)::

    from lienthong.mapping import load_route
    compiled = load_route("dossier_sync").compile()
    record = compiled.prepare(raw)              # NFC + JSON-string fields parsed
    selected, reason = compiled.select(record)
    mapped = compiled.map(record)               # MappedRecord(key, payload, followups) or MappingError

The file format, every rule and transform are described in ``docs/mapping-reference.md``.
"""

from __future__ import annotations

from lienthong.mapping.compiled import CompiledFollowup, CompiledRoute, MappedRecord
from lienthong.mapping.resources import default_mappings_dir
from lienthong.mapping.route import (
    FollowupSpec,
    Route,
    SourceSpec,
    TargetSpec,
    load_route,
    load_routes,
    parse_route,
)
from lienthong.mapping.transforms import names as transform_names
from lienthong.mapping.transforms import register as register_transform

__all__ = [
    "CompiledFollowup",
    "CompiledRoute",
    "FollowupSpec",
    "MappedRecord",
    "Route",
    "SourceSpec",
    "TargetSpec",
    "default_mappings_dir",
    "load_route",
    "load_routes",
    "parse_route",
    "register_transform",
    "transform_names",
]
