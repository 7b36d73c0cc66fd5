"""The extraction pool bounds each page: a worker over its CPU time or memory, or one that dies,
costs that page alone; its replacement extracts the next ones."""

from __future__ import annotations

import os
import time

from scraper.extraction import pool as workers
from scraper.extraction.pool import PageLimits, WorkerPool
from tests.conftest import DEMO_DATA

PAGE = (DEMO_DATA / "site" / "www.kommersant.ru" / "doc" / "7715044.gz")


def spin(seconds: float) -> str:
    """Use CPU for `seconds` (an extraction that does not end)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return "spun"


def hoard(megabytes: int) -> str:
    """Hold `megabytes` of memory for a while (an extraction that grows without bound)."""
    held = [bytearray(1024 * 1024) for _ in range(megabytes)]
    time.sleep(5)
    return f"held {len(held)}"


def page_job():
    import gzip

    html = gzip.decompress(PAGE.read_bytes()).decode("utf-8")
    return workers.extract_html, (html, "https://www.kommersant.ru/doc/7715044", {"languages": ["ru"]})


def test_each_bound_costs_one_page_and_the_pool_carries_on():
    pool = WorkerPool(2)
    try:
        function, args = page_job()
        futures = [
            pool.submit(os._exit, (3,)),  # a worker that dies (as the OOM killer would make it)
            pool.submit(spin, (30,), PageLimits(cpu_seconds=1)),
            pool.submit(hoard, (400,), PageLimits(memory_mb=100)),
            pool.submit(function, args),
            pool.submit(function, args),
        ]
        started = time.monotonic()
        died, slow, big, *pages = [f.result(timeout=120) for f in futures]
        assert died.limit == "extraction_failed" and "exit code 3" in died.error
        assert slow.limit == "extraction_timeout" and "1 s of CPU" in slow.error
        assert big.limit == "extraction_memory" and "100 MB" in big.error
        for page in pages:
            assert page.error is None and "В то время как все" in page.record["text"]
        assert time.monotonic() - started < 100
    finally:
        pool.shutdown()
