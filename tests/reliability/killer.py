"""Kill a worker process while it is in a chosen phase, and know for sure which phase that was.

The process reports its phase through ``LIENTHONG_PHASE_FILE`` (:mod:`lienthong.phases`).  The watcher
polls the file; once the process is in the wanted phase it waits a random moment (so that kills land
inside the phase, not only at its start), freezes the process with ``SIGSTOP``, reads the phase again
and only then sends ``SIGKILL``: a stopped process cannot move on between that read and the kill, so
the phase recorded is the phase the process died in, however loaded the machine is.  If the process
went past the wanted phase before the watcher saw it (a short phase), it is killed where it is and
the kill is recorded there: the schedule asks for the missed phase again in a later cycle.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lienthong import phases

#: The phases a run goes through, in order (``done``: the run ended, the process is exiting).
ORDER = (phases.START_UP, phases.PULL, phases.MAP, phases.DELIVER, phases.DONE)

POLL_SECONDS = 0.002


@dataclass
class Kill:
    wanted: str
    pid: int
    phase: str  # the phase the process was in when it was killed (read while it was stopped)
    delay: float  # seconds waited after the wanted phase was first seen


def kill_in_phase(
    command: list[str],
    env: dict[str, str],
    phase_file: Path,
    wanted: str,
    max_delay: float,
    rng: random.Random,
    stderr_path: Path,
    limit: float = 600.0,
) -> Kill | None:
    """Start ``command``; kill it during ``wanted`` (after a random wait up to ``max_delay``).

    Returns the kill, or None when the process ended by itself first (its exit code must be 0)."""
    phase_file.unlink(missing_ok=True)
    env = {**env, phases.ENV_PHASE_FILE: str(phase_file)}
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + limit
    seen_at: float | None = None
    delay = rng.uniform(0.0, max_delay)
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the worker did not reach or leave phase {wanted!r} within {limit:.0f} s"
                )
            now = phases.read(phase_file)
            if now == wanted and seen_at is None:
                seen_at = time.monotonic()
            missed = now is not None and now != phases.DONE and ORDER.index(now) > ORDER.index(wanted)
            if (seen_at is not None and time.monotonic() - seen_at >= delay) or (seen_at is None and missed):
                return _stop_read_kill(process, phase_file, wanted, delay if seen_at is not None else 0.0)
            time.sleep(POLL_SECONDS)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        raise
    code = process.wait()
    assert code == 0, stderr_path.read_text()[-3000:]
    return None


def _stop_read_kill(process: subprocess.Popen, phase_file: Path, wanted: str, delay: float) -> Kill | None:
    try:
        os.kill(process.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    phase = phases.read(phase_file) or "(none)"
    if process.poll() is not None:  # it ended just before the stop
        return None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return Kill(wanted=wanted, pid=process.pid, phase=phase, delay=round(delay, 3))
