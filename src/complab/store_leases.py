"""Leases on runs: who holds a running run, and whether that holder is still alive.
A run's holder renews its heartbeat; another process may take the run over once the
heartbeat is older than `LEASE_S`, or at once when the holder was a process on this
machine that is gone (its pid no longer exists, or now belongs to a process started
at another time)."""

import os
import socket
import time
from pathlib import Path

LEASE_S = 90.0  # a run whose holder has not beaten for this long may be taken over


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), to tell a reused pid
    from the process that held a run; None where /proc has no such file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]  # field 22, counted after the command's name
    except (OSError, ValueError, IndexError):
        return None


def held_elsewhere(run, owner: str) -> bool:
    """Whether another live holder has this running run: a fresh heartbeat under another
    owner, unless that owner was a process on this machine that no longer exists."""
    if run.status != "running" or run.owner in (None, owner):
        return False
    if time.time() - (run.heartbeat or 0) > LEASE_S:
        return False
    if run.host == socket.gethostname() and run.pid is not None:
        try:
            os.kill(run.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        if run.pid_start is not None and process_start(run.pid) not in (None, run.pid_start):
            return False  # the pid now belongs to another process: the holder is gone
    return True
