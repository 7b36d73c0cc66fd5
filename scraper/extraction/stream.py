"""Extraction outside a crawl, over JSON lines: `mediawatch extract --jsonl`.

Input lines: {"id": ..., "url": ..., "html": ..., "hints": {...} (optional)}.
Output: one line per non-blank input line, in input order: {"id": <echoed unchanged>, "url",
"title", "authors", "published", "language", "text", ...} (the `extract_article` record), or
{"id": ..., "error": "..."} when the line cannot be read or extracted. A bad line never stops
the stream. Pages are extracted by the crawler's own worker pool (scraper/extraction/pool.py), so the
output is what a crawl would have stored.
"""

from __future__ import annotations

import json
from typing import IO, Iterator

from scraper.extraction import pool as workers


def extract_jsonl(in_stream: IO[str], out_stream: IO[str], worker_count: int | None = None) -> int:
    """Extract every JSON line of `in_stream` to `out_stream`; returns the number of lines written."""
    written = 0
    for (record_id, problem), extraction in workers.extract_many(_jobs(in_stream), worker_count):
        if extraction is None:
            output = {"id": record_id, "error": problem}
        elif extraction.record is None:
            output = {"id": record_id, "error": f"extraction failed: {extraction.error}"}
        else:
            output = {"id": record_id, **extraction.record}
        out_stream.write(json.dumps(output, ensure_ascii=False) + "\n")
        out_stream.flush()  # a reader at the other end of a pipe sees each result as it is ready
        written += 1
    return written


def _jobs(in_stream: IO[str]) -> Iterator[tuple[tuple, tuple | None]]:
    """((id, problem), (html, url, hints) or None) per non-blank line."""
    for number, line in enumerate(in_stream, start=1):
        if not line.strip():
            continue
        record_id = None
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield (None, f"line {number}: not JSON ({exc})"), None
            continue
        if not isinstance(item, dict):
            yield (None, f"line {number}: not a JSON object"), None
            continue
        record_id = item.get("id")
        problems = [f"'{name}' must be a string" for name in ("url", "html") if not isinstance(item.get(name), str)]
        hints = item.get("hints") or {}
        if not isinstance(hints, dict):
            problems.append("'hints' must be an object")
        if problems:
            yield (record_id, f"line {number}: {'; '.join(problems)}"), None
        else:
            yield (record_id, None), (item["html"], item["url"], hints)
