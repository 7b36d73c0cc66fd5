"""Exclusive process locks: one crawl per outlet, one scheduler per job store.

A scheduled run and a manual `mediawatch run` of the same outlet must not overlap. Each crawl
holds an exclusive flock on `<archive>.d/locks/<outlet>.lock` (archive/companions.py); a
scheduler holds one on `<jobs file>.lock`, so a second scheduler on the same jobs cannot fire
every job twice. The kernel releases a flock when the process ends, however it ends (SIGKILL
included), so a crash never leaves a stale lock. The file holds the owner's pid, for the
error message only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from archive.companions import Companions


class LockHeld(RuntimeError):
    """Another process holds the lock; the message names what it is doing and its pid."""


# The name the crawl code knows this error by.
OutletBusy = LockHeld


class ProcessLock:
    def __init__(self, path: Path, activity: str):
        self.path = Path(path)
        # What the holder is doing, for the error: "outlet 'x' is already being crawled".
        self.activity = activity
        self._handle = None

    def acquire(self) -> "ProcessLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockHeld(f"{self.activity} (pid {holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def holder(self) -> str | None:
        """The pid of the process holding the lock, None if none does; creates nothing.

        Looking takes a shared lock for an instant: a process acquiring the lock in that
        very instant is refused as if it were held.
        """
        try:
            handle = open(self.path)
        except FileNotFoundError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "another process"
        return None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None


class OutletLock(ProcessLock):
    def __init__(self, archive: Path, outlet_id: str):
        super().__init__(Companions(Path(archive)).outlet_lock(outlet_id),
                         f"outlet '{outlet_id}' is already being crawled")
        self.outlet_id = outlet_id


class SchedulerLock(ProcessLock):
    def __init__(self, jobs: Path):
        super().__init__(Path(f"{jobs}.lock"), f"a scheduler is already running with the jobs in {jobs}")
