"""Batch extraction over JSON lines, for `mediawatch extract` and re-extraction jobs.

Input lines: {"id": ..., "url": ..., "html": ..., "hints": {...} (optional)}.
Output: one line per input line, in input order: the `extract_article` record plus the echoed
"id", or {"id": ..., "error": "..."} when the line cannot be read or extracted. A bad line
never aborts the batch. Work runs in a process pool because trafilatura is CPU-bound and
threads would serialise on the GIL.
"""

from __future__ import annotations

import json
import multiprocessing
from typing import IO, Iterator

from .extract import extract_article

# Lines handed to a worker at a time: large enough to amortise pickling, small enough that
# output keeps flowing and memory stays bounded (pages are up to a few MB each).
_CHUNK = 8


def extract_jsonl(in_stream: IO[str], out_stream: IO[str], workers: int = 2) -> int:
    """Extract every JSON line of `in_stream` to `out_stream`; returns the number of lines written.

    Order and ids are preserved; blank input lines are skipped. `workers <= 1` runs in-process.
    """
    lines = (line for line in in_stream if line.strip())
    written = 0
    if workers <= 1:
        results: Iterator[str] = map(extract_line, lines)
        for out in results:
            out_stream.write(out + "\n")
            written += 1
        return written
    ctx = multiprocessing.get_context("spawn" if _unsafe_to_fork() else "fork")
    with ctx.Pool(workers) as pool:
        # imap keeps input order and streams: never holds the whole batch in memory.
        for out in pool.imap(extract_line, lines, chunksize=_CHUNK):
            out_stream.write(out + "\n")
            written += 1
    return written


def extract_line(line: str) -> str:
    """One input JSON line -> one output JSON line (never raises)."""
    record_id = None
    try:
        item = json.loads(line)
        if not isinstance(item, dict):
            raise ValueError("line is not a JSON object")
        record_id = item.get("id")
        html, url = item.get("html"), item.get("url")
        if not isinstance(html, str) or not html.strip():
            raise ValueError("missing or empty 'html'")
        if not isinstance(url, str):
            raise ValueError("missing 'url'")
        record = extract_article(html, url, item.get("hints"))
        return json.dumps({"id": record_id, **record}, ensure_ascii=False)
    except Exception as exc:  # noqa: BLE001 - one bad page must not stop the batch
        return json.dumps({"id": record_id, "error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False)


def _unsafe_to_fork() -> bool:
    # Forking a process that already runs threads (Twisted's reactor, a web server) can
    # deadlock in the child; start clean interpreters there.
    import threading

    return threading.active_count() > 1
