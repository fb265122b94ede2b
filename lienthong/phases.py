"""Which phase a process is in, for whoever watches it from outside.

Why: a crash test must kill a worker *while it is in* a given phase (start-up, pull, map, deliver).
Placing kills by the clock ("0.8 s after the start") lands in a different phase when the machine is
loaded, so such a schedule both proves less than it says and makes CI flaky.  The process therefore
says where it is: when ``LIENTHONG_PHASE_FILE`` names a file, :func:`report` writes the phase name to
it at each change, atomically (written to a temporary file beside it, then renamed), so a reader
always sees one whole name, never a torn or empty file.  Without the variable it does nothing (one
dictionary lookup): production pays nothing.

A watcher that wants the phase to hold still while it acts (``SIGSTOP`` the process, read the file,
then ``SIGKILL``) knows the phase the process was really in when it died: a stopped process cannot
move on between the read and the kill.

The file holds the name only, then a newline.  Names: ``start-up`` (the process opened its store and
prepares the run), ``pull``, ``map``, ``deliver``, ``done`` (the run ended; the process may still be
writing its summary).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_PHASE_FILE = "LIENTHONG_PHASE_FILE"

START_UP = "start-up"
PULL = "pull"
MAP = "map"
DELIVER = "deliver"
DONE = "done"

PHASES: tuple[str, ...] = (START_UP, PULL, MAP, DELIVER, DONE)


def report(phase: str) -> None:
    """Record that this process enters ``phase`` (a no-op unless ``LIENTHONG_PHASE_FILE`` is set).

    Never raises: a watcher's file that cannot be written must not fail a run."""
    target = os.environ.get(ENV_PHASE_FILE)
    if not target:
        return
    path = Path(target)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(phase + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass


def read(path: str | os.PathLike[str]) -> str | None:
    """The phase a process last reported in ``path``, or None when it has reported none yet."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text or None


__all__ = ["DELIVER", "DONE", "ENV_PHASE_FILE", "MAP", "PHASES", "PULL", "START_UP", "read", "report"]
