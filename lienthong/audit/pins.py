"""Pinned checkpoint keys: the fingerprints of the public keys whose signatures an auditor trusts.

A public key found beside the data (``<data dir>/keys/audit-signing.pub``) proves nothing: whoever
can delete the checkpoints can also replace that key with their own and sign a rewritten chain.  So
verification trusts a checkpoint only when the key that signed it has a fingerprint the auditor
*pinned*, somewhere the data's administrators cannot write:

- ``LIENTHONG_AUDIT_PINNED_KEYS``: fingerprints separated by commas or white space (a *set*: after
  a rotation the old key stays pinned beside the new one, so old checkpoints still count);
- a pins file, one fingerprint a line (``#`` comments): ``--pinned-keys FILE`` given to
  ``audit verify`` (then only that file counts), else ``LIENTHONG_AUDIT_PINNED_KEYS_FILE``, else
  ``$XDG_CONFIG_HOME/lienthong/audit-pinned-keys`` (``~/.config/…``) when it exists.

A fingerprint is ``sha256:`` + the hex sha256 of the raw 32-byte Ed25519 public key (its first 16
hex digits are the checkpoint's ``key_id``).  A pins file inside the store's data directory pins
nothing and is refused.  Fingerprints are public: they may be printed and logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

log = logging.getLogger(__name__)

ENV_PINNED = "LIENTHONG_AUDIT_PINNED_KEYS"
ENV_PINNED_FILE = "LIENTHONG_AUDIT_PINNED_KEYS_FILE"
_FINGERPRINT = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


class PinError(ValueError):
    """A pin that cannot be used (malformed fingerprint, pins file inside the data directory)."""


def fingerprint(public_key: Any) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse(text: str, source: str) -> set[str]:
    """The fingerprints in ``text`` (commas, white space or lines; ``#`` starts a comment)."""
    found: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        for token in re.split(r"[\s,]+", line.split("#", 1)[0].strip()):
            if not token:
                continue
            match = _FINGERPRINT.match(token.lower())
            if match is None:
                raise PinError(
                    f"{source}: line {number}: {token[:20]!r} is not a sha256:<64 hex> fingerprint"
                )
            found.add("sha256:" + match.group(1))
    return found


def default_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_PINNED_FILE):
        return Path(env[ENV_PINNED_FILE])
    if env.get("XDG_CONFIG_HOME"):
        base = Path(env["XDG_CONFIG_HOME"])
    else:
        try:
            base = Path.home() / ".config"
        except (RuntimeError, KeyError):  # no home directory (some service accounts): no default file
            base = Path("/nonexistent")
    return base / "lienthong" / "audit-pinned-keys"


@dataclass
class Pins:
    fingerprints: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    def __contains__(self, item: str) -> bool:
        return item in self.fingerprints

    def __bool__(self) -> bool:
        return bool(self.fingerprints)


def configured(
    pinned_file: Path | None = None,
    *,
    data_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Pins:
    """The pins an auditor configured: ``pinned_file`` alone when given, else the environment's
    variable and pins file.  Raises :class:`PinError` for a malformed pin or a pins file inside
    ``data_dir`` (there it pins nothing: whoever can write the data can write it)."""
    env = os.environ if environ is None else environ
    pins = Pins()
    files = [Path(pinned_file)] if pinned_file is not None else [default_file(env)]
    if pinned_file is None and env.get(ENV_PINNED):
        pins.fingerprints |= parse(env[ENV_PINNED], ENV_PINNED)
        pins.sources.append(ENV_PINNED)
    for path in files:
        if not path.exists():
            if pinned_file is not None:
                raise PinError(f"pins file {path} does not exist")
            continue
        if data_dir is not None and _inside(path, data_dir):
            raise PinError(
                f"pins file {path} is inside the store's data directory {data_dir}: it pins nothing"
            )
        pins.fingerprints |= parse(path.read_text(encoding="utf-8"), str(path))
        pins.sources.append(str(path))
    return pins


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


def pin(fp: str, path: Path | None = None) -> Path:
    """Append ``fp`` to the pins file (created if needed); returns the file.  Used when the demo's
    signing key is generated, and by ``lienthong audit pin``."""
    (fp,) = parse(fp, "fingerprint")
    target = Path(path) if path is not None else default_file()
    existing = parse(target.read_text(encoding="utf-8"), str(target)) if target.exists() else set()
    if fp not in existing:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(fp + "\n")
    return target
