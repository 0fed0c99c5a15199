"""Whether a process still runs, as the tests that check nothing outlives its owner ask it.

A zombie counts as gone: it has ended, and only its entry is left for a parent to reap (a process
whose parent died is re-parented to a PID 1 that may never reap it).
"""

from __future__ import annotations

import psutil


def running(proc: psutil.Process) -> bool:
    """``proc`` still runs and is the same process (its pid not given to another since)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def alive(pid: int) -> bool:
    """Some process with this pid still runs."""
    try:
        return running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False
