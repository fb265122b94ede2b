"""Process bookkeeping for the native cluster: which processes are ours, and stopping only those.

Each component is started in its own session, so the session id is the component's pid and every
descendant that kept the session (a Celery worker's pool and task processes) carries it. A pid file
records the pid and the kernel's start time: a pid that another program reused later has another
start time and is never signalled.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The kernel's start time of a process (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def session_members(sid: int) -> list[int]:
    """Live processes of a session (zombies excluded)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def signal_session(sid: int, sig: signal.Signals) -> None:
    for pid in session_members(sid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def reap(pid: int) -> None:
    """Collect the exit status of a component this process started (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # started by another process (``up`` then ``down`` from the shell): its parent reaps it


def write_private(path: Path, text: str) -> None:
    """A file only its owner can read (secrets, the admin password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
