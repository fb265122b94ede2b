"""The archive key ring: AES-256-GCM keys by id, the first one current.

Configured with ``LIENTHONG_ARCHIVE_KEYS`` = ``keyid:base64key,keyid:base64key`` (the first encrypts;
every key decrypts what it once encrypted, so old bodies stay readable after a rotation).  Without
the variable a key is generated once into ``<data dir>/keys/archive.keys`` (mode 0600) with a warning:
fine for the demo and tests, never for production.  Every sealed value names its key id.

Keys never appear in logs or error messages; only their ids do.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENV_KEYS = "LIENTHONG_ARCHIVE_KEYS"
#: The same list read from a file (a mounted secret): keys stay out of the process's environment
#: listing, ``docker inspect`` and the cluster's printed settings.
ENV_KEYS_FILE = "LIENTHONG_ARCHIVE_KEYS_FILE"
KEY_FILE = "archive.keys"


class KeyringError(Exception):
    """A key ring that cannot be used (malformed configuration, unknown key id)."""


@dataclass(frozen=True)
class Keyring:
    keys: tuple[tuple[str, bytes], ...]  # (id, 32-byte key), current first
    source: str  # "env" or the file it came from (for messages; never the keys)

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def current_key(self) -> bytes:
        return self.keys[0][1]

    def ids(self) -> list[str]:
        return [key_id for key_id, _ in self.keys]


def parse_keys(text: str, source: str) -> Keyring:
    keys: list[tuple[str, bytes]] = []
    for position, part in enumerate(p.strip() for p in text.replace("\n", ",").split(",")):
        if not part or part.startswith("#"):
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id or not key_id.replace("-", "").replace("_", "").isalnum():
            raise KeyringError(f"{source}: key #{position + 1} is not 'keyid:base64key'")
        try:
            key = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise KeyringError(f"{source}: key {key_id!r} is not valid base64") from None
        if len(key) not in (16, 24, 32):
            raise KeyringError(f"{source}: key {key_id!r} must be 16, 24 or 32 bytes (got {len(key)})")
        keys.append((key_id, key))
    if not keys:
        raise KeyringError(f"{source}: no keys")
    if len({k for k, _ in keys}) != len(keys):
        raise KeyringError(f"{source}: duplicate key ids")
    return Keyring(tuple(keys), source)


def new_key_line() -> str:
    """A fresh key as a ``keyid:base64key`` entry (id = a fingerprint, so two stores never clash)."""
    key = os.urandom(32)
    return f"k{hashlib.sha256(key).hexdigest()[:10]}:{base64.b64encode(key).decode()}"


def _default_file(keys_dir: Path) -> Keyring:
    path = keys_dir / KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process generated it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(new_key_line() + "\n")
            log.warning(
                "no %s configured: generated an archive key in %s (demo/test only; production must set %s)",
                ENV_KEYS,
                path,
                ENV_KEYS,
            )
    return parse_keys(path.read_text(encoding="ascii"), str(path))


_lock = threading.Lock()
_by_dir: dict[Path, Keyring] = {}
#: Every key this process has loaded, by id: a sealed value is opened with the key it names.
_known: dict[str, bytes] = {}


def load(keys_dir: Path, environ: dict[str, str] | None = None) -> Keyring:
    """The key ring for a deployment: the environment's, else the generated default in ``keys_dir``."""
    env = os.environ if environ is None else environ
    with _lock:
        configured, source = _configured(env)
        ring = parse_keys(configured, source) if configured else None
        if ring is None:
            keys_dir = keys_dir.resolve()
            ring = _by_dir.get(keys_dir) or _default_file(keys_dir)
            _by_dir[keys_dir] = ring
        for key_id, key in ring.keys:
            known = _known.get(key_id)
            if known is not None and known != key:
                raise KeyringError(f"key id {key_id!r} names two different keys")
            _known[key_id] = key
        return ring


def _configured(env) -> tuple[str | None, str]:  # noqa: ANN001 - a mapping of the environment
    """The configured key list and where it came from (for messages: never the keys)."""
    if env.get(ENV_KEYS):
        return env[ENV_KEYS], ENV_KEYS
    path = env.get(ENV_KEYS_FILE)
    if not path:
        return None, ENV_KEYS
    try:
        return Path(path).read_text(encoding="ascii"), f"{ENV_KEYS_FILE} ({path})"
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyringError(f"{ENV_KEYS_FILE}: cannot read {path} ({type(exc).__name__})") from None


def key_for(key_id: str) -> bytes:
    key = _known.get(key_id)
    if key is None and (os.environ.get(ENV_KEYS) or os.environ.get(ENV_KEYS_FILE)):
        # A reader that never loaded a ring (a Store opened without a Gateway): the configured one.
        # Never a generated default here: a reader must not invent a key it cannot have sealed with.
        load(Path("."))
        key = _known.get(key_id)
    if key is None:
        raise KeyringError(
            f"archive key {key_id!r} is not in this process's key ring: every process that shares a store "
            f"(several workers, Airflow workers, another machine) needs the same {ENV_KEYS}; after a "
            "rotation, keep the old key in the list (after the current one)"
        )
    return key


#: Bumped by :func:`forget_all`: rings cached elsewhere (per store) are loaded again.
generation = 0


def forget_all() -> None:
    """Drop every cached ring and key (a rotation within one process: tests, a long-lived worker)."""
    global generation
    with _lock:
        _by_dir.clear()
        _known.clear()
        generation += 1
