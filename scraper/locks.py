"""One crawl per outlet at a time, across processes.

A scheduled run and a manual `mediawatch run` of the same outlet must not overlap. Each crawl
holds an exclusive flock on `<archive>.locks/<outlet>.lock`; the kernel releases it when the
process ends, however it ends (SIGKILL included), so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class OutletBusy(RuntimeError):
    """Another process is crawling this outlet into this archive."""


class OutletLock:
    def __init__(self, archive: Path, outlet_id: str):
        self.path = Path(f"{archive}.locks") / f"{outlet_id}.lock"
        self.outlet_id = outlet_id
        self._handle = None

    def acquire(self) -> "OutletLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise OutletBusy(f"outlet '{self.outlet_id}' is already being crawled (pid {holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None
