"""Target kinds by name: a target file's ``kind`` picks the class, its connection the endpoint."""

from __future__ import annotations

from pathlib import Path

from connectors.targets.base import Delivery, ItemResult, Target
from connectors.targets.rest import REST_KEYS, RestTarget
from connectors.targets.soap import SOAP_KEYS, SoapTarget
from connectors.targets.spec import TargetSpec, load_target_spec
from lienthong.connections import get_connection

KIND_KEYS: dict[str, set[str]] = {"rest": REST_KEYS, "soap": SOAP_KEYS}


def load_spec(name: str, mappings_dir: Path) -> TargetSpec:
    return load_target_spec(name, mappings_dir, KIND_KEYS)


def open_target(name: str, mappings_dir: Path) -> Target:
    """Build the connector of target ``name`` from its file and its connection."""
    spec = load_spec(name, mappings_dir)
    connection = get_connection(spec.connection)
    if spec.kind == "soap":
        return SoapTarget(spec, connection, mappings_dir)
    return RestTarget(spec, connection)


__all__ = ["Delivery", "ItemResult", "Target", "TargetSpec", "load_spec", "open_target"]
