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
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, TypeVar

from archive.store import compress_page, decompress_page
from scraper.extraction.article import extract_article
from scraper.extraction.encoding import decode_bytes

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_users = 0
# trafilatura and htmldate keep LRU caches that only grow over a long crawl; each worker
# clears them every this many pages, as trafilatura advises for long runs.
RESET_CACHES_EVERY = 1000
_pages_extracted = 0  # in this worker process


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
    global _pool, _users, _pool_size
    if _pool is None:
        _pool_size = workers or os.cpu_count() or 2
        # "spawn": forking a process that runs a Twisted reactor and threads is unsafe.
        _pool = ProcessPoolExecutor(
            max_workers=_pool_size,
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


@dataclass
class Extraction:
    """What a worker makes of one page."""

    record: dict | None  # the extraction record; None if the extractor raised
    html_zlib: bytes | None = None  # the page body compressed for raw_pages (crawled pages)
    error: str | None = None  # why the extractor raised


def extract_page(body: bytes, encoding: str | None, url: str, hints: dict) -> Extraction:
    """Extract one fetched page: `body` as downloaded, `encoding` as the crawler decided it.

    Only the bytes cross the process boundary (the decoded text was sent beside them once:
    twice the data to pickle and pipe on the crawler's one thread); they are decoded here as
    `reextract` decodes a stored page, so both see the same text."""
    # Compressing the raw page happens here too: in the crawler it was the largest cost on the
    # reactor's one thread, which every page goes through.
    html_zlib = compress_page(body)
    html, _ = decode_bytes(body, encoding)
    extraction = extract_html(html, url, hints)
    extraction.html_zlib = html_zlib
    return extraction


def extract_html(html: str, url: str, hints: dict) -> Extraction:
    """Extract one page that is not to be stored as fetched (`extract`, `reextract`)."""
    global _pages_extracted
    _pages_extracted += 1
    if _pages_extracted % RESET_CACHES_EVERY == 0:
        from trafilatura.meta import reset_caches

        reset_caches()
    try:
        return Extraction(extract_article(html, url, hints))
    except Exception as exc:  # a bug in the extractor must cost one page, not the run
        return Extraction(None, error=repr(exc))


@dataclass
class StoredPage:
    """A page as the archive keeps it (compressed bytes and the encoding recorded when it
    was fetched), for `mediawatch reextract`. It is decompressed and decoded in the worker: a
    third of the compressed size crosses the process boundary, and the process feeding the
    workers reads and writes the archive only."""

    html_zlib: bytes
    encoding: str | None
    url: str
    hints: dict


def extract_stored(page: StoredPage) -> Extraction:
    """Extract one stored page (see StoredPage); an unreadable one is an error, not a crash."""
    try:
        html, _ = decode_bytes(decompress_page(page.html_zlib), page.encoding)
    except ValueError as exc:
        return Extraction(None, error=f"stored page unreadable: {exc}")
    return extract_html(html, page.url, page.hints)


async def extract_in_worker(pool: ProcessPoolExecutor, body: bytes, encoding: str | None, url: str,
                            hints: dict) -> Extraction:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, extract_page, body, encoding, url, hints)


Tag = TypeVar("Tag")
# Pages in flight per worker outside a crawl: enough to keep every worker busy, few enough
# that a huge input streams through instead of being read into memory.
_IN_FLIGHT_PER_WORKER = 16


def extract_many(jobs: Iterable[tuple[Tag, tuple[str, str, dict] | StoredPage | None]],
                 workers: int | None = None) -> Iterator[tuple[Tag, Extraction | None]]:
    """Extract `(tag, (html, url, hints))` or `(tag, StoredPage)` jobs in the worker pool;
    yields `(tag, Extraction)` in input order. A job of None is passed through as `(tag, None)`.

    The crawler's pool and per-page function, for `mediawatch extract --jsonl` and
    `mediawatch reextract`, so they extract exactly as a crawl does.
    """
    pool = acquire(workers)
    try:
        limit = _pool_size * _IN_FLIGHT_PER_WORKER
        pending: deque[tuple[Tag, Future | None]] = deque()
        for tag, job in jobs:
            if job is None:
                future = None
            elif isinstance(job, StoredPage):
                future = pool.submit(extract_stored, job)
            else:
                future = pool.submit(extract_html, *job)
            pending.append((tag, future))
            while len(pending) > limit or (pending and _ready(pending[0][1])):
                yield _result(pending.popleft())
        while pending:
            yield _result(pending.popleft())
    finally:
        release()


def _ready(future: Future | None) -> bool:
    return future is None or future.done()


def _result(item: tuple[Tag, Future | None]) -> tuple[Tag, Extraction | None]:
    tag, future = item
    if future is None:
        return tag, None
    try:
        return tag, future.result()
    except Exception as exc:  # a worker process died (killed, out of memory): this page only
        return tag, Extraction(None, error=repr(exc))
