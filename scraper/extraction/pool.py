"""Extraction worker processes, each page bounded in CPU time and memory.

trafilatura is CPU-bound and the GIL makes threads useless for it, while Scrapy's reactor
must never block. So pages go to a pool of worker processes (one per core by default) and the
pipeline awaits the result; the reactor keeps downloading meanwhile. One pool per process is
shared by every crawler running in it.

Each worker extracts one page at a time, watched by the pool (every WATCH_INTERVAL_S): a page
whose extraction uses more CPU time than its limit, or grows the worker's memory by more than
its limit, has its worker killed and replaced, and comes back as an Extraction whose `limit`
says which bound it hit (``extraction_timeout``, ``extraction_memory``); a worker that dies
(the OOM killer, a crash in C code) costs its page alone the same way. The other pages carry
on in the other workers. (A ProcessPoolExecutor cannot do this: it has no way to stop one task,
and one dead worker breaks the whole pool and every page queued in it.)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Iterable, Iterator, TypeVar

import psutil

from archive.store import compress_page, decompress_page
from scraper.extraction.article import extract_article
from scraper.extraction.encoding import decode_bytes

_pool: "WorkerPool | None" = None
_pool_size = 0
_users = 0
# trafilatura and htmldate keep LRU caches that only grow over a long crawl; each worker
# clears them every this many pages, as trafilatura advises for long runs.
RESET_CACHES_EVERY = 1000
_pages_extracted = 0  # in this worker process
# How often the pool looks at each busy worker's CPU time and memory.
WATCH_INTERVAL_S = 0.1


@dataclass(frozen=True)
class PageLimits:
    """What one page's extraction may cost (registry `limits.extraction_seconds` / `_memory_mb`),
    and by when it must be done (time.monotonic(); a crawl's --time-limit): a page still queued
    or being extracted then is given up as 'extraction_interrupted'."""

    cpu_seconds: float = 60
    memory_mb: int = 1024
    deadline: float | None = None

    @property
    def wall_seconds(self) -> float:
        # A worker that stops using CPU without finishing (it cannot happen in extraction, which
        # never waits on anything) is given up on after this long however idle it is.
        return self.cpu_seconds * 4 + 60


@dataclass
class Extraction:
    """What a worker makes of one page."""

    record: dict | None  # the extraction record; None if the extractor raised or a limit was hit
    html_zlib: bytes | None = None  # the page body compressed for raw_pages (crawled pages)
    error: str | None = None  # why there is no record
    # The bound the extraction went over: 'extraction_timeout' or 'extraction_memory'; or
    # 'extraction_failed' when its worker died, 'extraction_interrupted' at its deadline.
    limit: str | None = None


def _interrupted() -> Extraction:
    return Extraction(None, error="not extracted: the run's time limit came first", limit="extraction_interrupted")


# -- in the worker -------------------------------------------------------------------------------


def _start_worker(crawler_pid: int) -> None:
    # A worker must not outlive a crawler that was killed outright (SIGKILL, the OOM killer):
    # it would otherwise wait for work forever.
    threading.Thread(target=_exit_with, args=(crawler_pid,), name="exit-with-crawler", daemon=True).start()
    # Import trafilatura's heavy modules before the first page arrives.
    import trafilatura  # noqa: F401


def _exit_with(crawler_pid: int) -> None:
    while os.getppid() == crawler_pid:
        time.sleep(1.0)
    os._exit(1)


_READY = "ready"


def _work(connection, crawler_pid: int) -> None:
    """A worker's life: extract what the pool sends, one page at a time, until told to stop."""
    _start_worker(crawler_pid)
    connection.send(_READY)  # its start-up (imports) is not counted against the first page
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        function, args = task
        try:
            result = function(*args)
        except BaseException as exc:  # noqa: BLE001 - MemoryError included: this page only
            result = Extraction(None, error=repr(exc))
        try:
            connection.send(result)
        except (OSError, ValueError):
            return


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


# -- the pool ------------------------------------------------------------------------------------


class _Worker:
    def __init__(self, context):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_work, args=(child, os.getpid()), name="mediawatch-extract",
                                       daemon=True)
        self.process.start()
        child.close()
        self.watched = psutil.Process(self.process.pid)
        self.task: tuple | None = None  # (future, limits, cpu at start, rss at start, started)

    def usage(self) -> tuple[float, int]:
        """(CPU seconds used so far, resident bytes)."""
        times = self.watched.cpu_times()
        return times.user + times.system, self.watched.memory_info().rss

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.connection.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


class WorkerPool:
    """`size` worker processes extracting one page each; see the module docstring."""

    def __init__(self, size: int):
        self.size = size
        self._context = multiprocessing.get_context("spawn")  # forking a process with a reactor is unsafe
        self._lock = threading.Lock()
        self._queue: deque[tuple[Future, tuple, PageLimits]] = deque()
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._wakeup_read, self._wakeup_write = self._context.Pipe(duplex=False)
        self._closed = False
        # Started now: a worker's start-up (spawning Python, importing trafilatura) takes seconds.
        self._starting = [_Worker(self._context) for _ in range(size)]
        self._manager = threading.Thread(target=self._manage, name="extraction-pool", daemon=True)
        self._manager.start()

    def submit(self, function, args: tuple, limits: PageLimits | None = None) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the extraction pool is shut down")
            self._queue.append((future, (function, args), limits or PageLimits()))
        self._wake()
        return future

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            queued, self._queue = list(self._queue), deque()
        for future, _, _ in queued:
            future.cancel()
        self._wake()
        self._manager.join()

    def _wake(self) -> None:
        try:
            self._wakeup_write.send_bytes(b"x")
        except (OSError, ValueError):
            pass

    # -- the manager thread ----------------------------------------------------------------------

    def _manage(self) -> None:
        while True:
            with self._lock:
                closed = self._closed
            if closed:
                break
            self._dispatch()
            ready = wait([self._wakeup_read, *(w.connection for w in self._starting + self._busy)],
                         timeout=WATCH_INTERVAL_S)
            if self._wakeup_read in ready:
                while self._wakeup_read.poll():
                    self._wakeup_read.recv_bytes()
            for worker in list(self._starting):
                if worker.connection in ready:
                    self._started(worker)
            for worker in list(self._busy):
                if worker.connection in ready:
                    self._collect(worker)
                else:
                    self._watch(worker)
        for worker in self._starting + self._idle + self._busy:
            if worker.task is not None:
                worker.task[0].cancel()
            worker.stop(kill=worker.task is not None)
        self._starting, self._idle, self._busy = [], [], []

    def _dispatch(self) -> None:
        # A worker replaced (or not started yet) is started when there is work for it.
        with self._lock:
            queued = len(self._queue)
        while (len(self._starting) + len(self._idle) + len(self._busy) < self.size
               and queued > len(self._idle) + len(self._starting)):
            self._starting.append(_Worker(self._context))
        while self._idle:
            with self._lock:
                if not self._queue:
                    return
                future, task, limits = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            if limits.deadline is not None and time.monotonic() >= limits.deadline:
                future.set_result(_interrupted())
                continue
            worker = self._idle.pop()
            try:
                cpu, rss = worker.usage()
                worker.connection.send(task)
            except (OSError, ValueError, psutil.Error) as exc:
                worker.stop(kill=True)
                future.set_result(Extraction(None, error=f"extraction worker unusable: {exc!r}", limit="extraction_failed"))
                continue
            worker.task = (future, limits, cpu, rss, time.monotonic())
            self._busy.append(worker)

    def _started(self, worker: _Worker) -> None:
        self._starting.remove(worker)
        try:
            worker.connection.recv()
        except (EOFError, OSError):
            worker.stop(kill=True)  # it died starting: another is made when work waits
            return
        self._idle.append(worker)

    def _collect(self, worker: _Worker) -> None:
        future = worker.task[0]
        try:
            result = worker.connection.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=5)
            code = worker.process.exitcode
            self._replace(worker, Extraction(
                None, error=f"the extraction worker died (exit code {code}"
                            + (", killed by a signal: out of memory?" if code is not None and code < 0 else "") + ")",
                limit="extraction_failed"))
            return
        self._busy.remove(worker)
        worker.task = None
        self._idle.append(worker)
        future.set_result(result)

    def _watch(self, worker: _Worker) -> None:
        future, limits, cpu_start, rss_start, started = worker.task
        try:
            cpu, rss = worker.usage()
        except psutil.Error:
            return  # it exited: its connection says so at the next wait
        used_cpu, grown_mb = cpu - cpu_start, (rss - rss_start) / 2**20
        if grown_mb > limits.memory_mb:
            self._replace(worker, Extraction(
                None, error=f"extraction used over {limits.memory_mb} MB of memory "
                            f"({rss / 2**20:.0f} MB in all after {used_cpu:.1f} s); stopped",
                limit="extraction_memory"))
        elif used_cpu > limits.cpu_seconds or time.monotonic() - started > limits.wall_seconds:
            self._replace(worker, Extraction(
                None, error=f"extraction took over {limits.cpu_seconds:g} s of CPU time; stopped",
                limit="extraction_timeout"))
        elif limits.deadline is not None and time.monotonic() >= limits.deadline:
            self._replace(worker, _interrupted())

    def _replace(self, worker: _Worker, outcome: Extraction) -> None:
        """Kill `worker` (over a limit, or dead already) and answer its page with `outcome`."""
        future = worker.task[0]
        self._busy.remove(worker)
        worker.task = None
        worker.stop(kill=True)
        future.set_result(outcome)


# -- what the crawler, `extract` and `reextract` call -----------------------------------------------


def acquire(workers: int | None = None) -> WorkerPool:
    global _pool, _users, _pool_size
    if _pool is None:
        _pool_size = workers or os.cpu_count() or 2
        _pool = WorkerPool(_pool_size)
    _users += 1
    return _pool


def release() -> None:
    global _pool, _users
    _users -= 1
    if _users <= 0 and _pool is not None:
        _pool.shutdown()
        _pool = None


async def extract_in_worker(pool: WorkerPool, body: bytes, encoding: str | None, url: str, hints: dict,
                            limits: PageLimits | None = None) -> Extraction:
    return await asyncio.wrap_future(pool.submit(extract_page, (body, encoding, url, hints), limits))


Tag = TypeVar("Tag")
# Pages in flight per worker outside a crawl: enough to keep every worker busy, few enough
# that a huge input streams through instead of being read into memory.
_IN_FLIGHT_PER_WORKER = 16


def extract_many(jobs: Iterable[tuple[Tag, tuple[str, str, dict] | StoredPage | None]],
                 workers: int | None = None, limits: PageLimits | None = None) -> Iterator[tuple[Tag, Extraction | None]]:
    """Extract `(tag, (html, url, hints))` or `(tag, StoredPage)` jobs in the worker pool;
    yields `(tag, Extraction)` in input order. A job of None is passed through as `(tag, None)`.

    The crawler's pool and per-page function, for `mediawatch extract --jsonl` and
    `mediawatch reextract`, so they extract exactly as a crawl does, within the same limits.
    """
    pool = acquire(workers)
    try:
        limit = _pool_size * _IN_FLIGHT_PER_WORKER
        pending: deque[tuple[Tag, Future | None]] = deque()
        for tag, job in jobs:
            if job is None:
                future = None
            elif isinstance(job, StoredPage):
                future = pool.submit(extract_stored, (job,), limits)
            else:
                future = pool.submit(extract_html, job, limits)
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
    except Exception as exc:  # noqa: BLE001 - the pool was shut down under it
        return tag, Extraction(None, error=repr(exc))
