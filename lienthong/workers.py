"""Who is working: worker ids, lease lengths, and telling a dead holder from a live one.

A worker id is ``host:pid:thread``.  A lease held by a process of *this* host that no longer exists
(killed with SIGKILL, crashed) is taken over at once on restart instead of waiting for it to expire;
holders on other hosts are trusted until their lease expires.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading

HOST = socket.gethostname()


def worker_id() -> str:
    return f"{process_owner_prefix()}{threading.get_ident()}"


def process_owner_prefix() -> str:
    """What every :func:`worker_id` of this process starts with (its threads share it)."""
    return f"{HOST}:{os.getpid()}:"


def holder_is_dead(holder: str | None) -> bool:
    if not holder:
        return False
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def lease_seconds(kind: str) -> float:
    """Lease lengths; ``LIENTHONG_LEASE_SECONDS`` (delivery) and ``LIENTHONG_EXTRACT_LEASE_SECONDS``."""
    if kind == "extract":
        return float(os.environ.get("LIENTHONG_EXTRACT_LEASE_SECONDS", "300"))
    return float(os.environ.get("LIENTHONG_LEASE_SECONDS", "120"))


def default_actor() -> str:
    """Who is acting, for runs and replays: ``LIENTHONG_ACTOR`` (set by Airflow tasks), else the OS user."""
    if os.environ.get("LIENTHONG_ACTOR"):
        return os.environ["LIENTHONG_ACTOR"]
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"
