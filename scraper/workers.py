"""Extraction worker processes.

trafilatura is CPU-bound and the GIL makes threads useless for it, while Scrapy's reactor
must never block. So pages go to a pool of worker processes (one per core by default) and the
pipeline awaits the result; the reactor keeps downloading meanwhile. One pool per process is
shared by every crawler running in it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from scraper.extract import extract_article

_pool: ProcessPoolExecutor | None = None
_users = 0


def _start_worker(crawler_pid: int) -> None:
    # A worker must not outlive a crawler that was killed outright (SIGKILL, the OOM killer):
    # it holds its own end of the task queue, so it would otherwise wait for work forever.
    threading.Thread(target=_exit_with, args=(crawler_pid,), name="exit-with-crawler", daemon=True).start()
    # Import trafilatura's heavy modules before the first page arrives.
    import trafilatura  # noqa: F401


def _exit_with(crawler_pid: int) -> None:
    while os.getppid() == crawler_pid:
        time.sleep(1.0)
    os._exit(1)


def acquire(workers: int | None = None) -> ProcessPoolExecutor:
    global _pool, _users
    if _pool is None:
        # "spawn": forking a process that runs a Twisted reactor and threads is unsafe.
        _pool = ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 2,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
    _users += 1
    return _pool


def release() -> None:
    global _pool, _users
    _users -= 1
    if _users <= 0 and _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


async def extract_in_worker(pool: ProcessPoolExecutor, html: str, url: str, hints: dict) -> dict:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, extract_article, html, url, hints)
