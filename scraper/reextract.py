"""Re-extraction: run the current extractor over the raw pages an archive already holds.

A better extractor should improve the whole archive, not only what is fetched from now on.
Every stored article keeps the zlib-compressed HTML it came from (raw_pages), so this needs
no network: each page is decoded as it was when fetched, extracted by the crawler's worker
pool with the hints the crawl used, and the article is updated through the archive's write
path (full-text search follows by its triggers), with the extractor version recorded.

An article whose page now yields no text keeps what it has: re-extraction never loses text.
"""

from __future__ import annotations

import json
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from archive.store import Archive
from scraper import workers
from scraper.encoding import decode_bytes
from scraper.extract import EXTRACTOR_VERSION

# Articles written per transaction: big enough to amortise the commit, small enough that a
# crawl writing at the same time never waits long for the lock.
_BATCH = 100


@dataclass
class ReextractOptions:
    """Which pages to re-extract, and with what."""

    outlets: list[str] = field(default_factory=list)  # outlet ids; all when empty
    since: str | None = None  # YYYY-MM-DD: only pages fetched on or after this day
    # Outlet id -> the registry's Outlet.extraction_hints() (languages, country, timezone,
    # drop_xpath, body_xpath); outlets not in it get the languages, country and time zone the
    # archive's outlets table recorded.
    outlet_hints: dict[str, dict] = field(default_factory=dict)
    workers: int | None = None
    progress: bool = True


@dataclass
class ReextractSummary:
    examined: int = 0
    changed: int = 0
    unchanged: int = 0
    kept: int = 0  # the page now yields no text: the stored article was left as it was
    refetched: int = 0  # fetched again while being re-extracted: the newer fetch stands
    failed: int = 0
    fields: Counter = field(default_factory=Counter)  # field name -> articles where it changed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, why), the first few

    def lines(self) -> list[str]:
        fields = ", ".join(f"{name} {count}" for name, count in self.fields.most_common())
        out = [
            f"pages examined: {self.examined} (extractor version {EXTRACTOR_VERSION})",
            f"articles changed: {self.changed}" + (f" ({fields})" if fields else ""),
            f"unchanged: {self.unchanged}",
            f"failed: {self.failed}",
        ]
        if self.kept:
            out.append(f"kept as stored (the page now yields no text): {self.kept}")
        if self.refetched:
            out.append(f"skipped (fetched again meanwhile): {self.refetched}")
        out += [f"  failed: {url}: {why}" for url, why in self.failures]
        return out


class ReextractError(ValueError):
    """The request cannot be carried out (e.g. an outlet the archive does not hold)."""


def reextract(archive: Archive, options: ReextractOptions) -> ReextractSummary:
    """Re-extract the selected articles' raw pages and update what changed."""
    summary = ReextractSummary()
    hints = _outlet_hints(archive, options)
    article_ids = _selected(archive, options)
    bar = tqdm(total=len(article_ids), desc="re-extracting", unit=" pages", file=sys.stderr,
               mininterval=1.0, dynamic_ncols=True, disable=not options.progress)
    batch: list[tuple[int, str, dict]] = []
    try:
        for (article_id, fetched_at, url, problem, languages), extraction in workers.extract_many(
                _jobs(archive, article_ids, hints), options.workers):
            bar.update(1)
            summary.examined += 1
            if extraction is None or extraction.record is None:
                _failed(summary, url, problem or (extraction and extraction.error) or "unknown error")
                continue
            record = extraction.record
            if not record.get("text"):
                summary.kept += 1
                continue
            # As the crawl pipeline does: an outlet with one language gives it to every article.
            record["language"] = record.get("language") or (languages[0] if len(languages) == 1 else None)
            batch.append((article_id, fetched_at, record))
            if len(batch) >= _BATCH:
                _store(archive, batch, summary)
                batch = []
        _store(archive, batch, summary)
    finally:
        bar.close()
    return summary


def _selected(archive: Archive, options: ReextractOptions) -> list[int]:
    where, params = ["r.html_zlib IS NOT NULL"], []
    if options.outlets:
        known = {row[0] for row in archive.conn.execute("SELECT DISTINCT outlet_id FROM articles")}
        unknown = [o for o in options.outlets if o not in known]
        if unknown:
            raise ReextractError(f"archive {archive.path} holds no articles of outlet(s): {', '.join(unknown)}")
        where.append(f"a.outlet_id IN ({', '.join('?' * len(options.outlets))})")
        params += options.outlets
    if options.since:
        where.append("r.fetched_at >= ?")
        params.append(options.since)
    return [row[0] for row in archive.conn.execute(
        "SELECT a.id FROM articles a JOIN raw_pages r ON r.id = a.raw_page_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.id", params)]


def _outlet_hints(archive: Archive, options: ReextractOptions) -> dict[str, dict]:
    hints = {
        outlet_id: {"languages": [code.strip() for code in (languages or "").split(",") if code.strip()],
                    "country": country, "timezone": zone}
        for outlet_id, languages, country, zone in archive.conn.execute(
            "SELECT id, languages, country, timezone FROM outlets")
    }
    hints.update(options.outlet_hints)
    return hints


def _jobs(archive: Archive, article_ids: list[int], outlet_hints: dict[str, dict]):
    """((article id, page fetched_at, url, problem, languages), (html, url, hints) or None)."""
    for start in range(0, len(article_ids), _BATCH):
        chunk = article_ids[start:start + _BATCH]
        rows = archive.conn.execute(
            "SELECT a.id, r.fetched_at, coalesce(r.final_url, r.url), r.html_zlib, r.encoding, r.hints, a.outlet_id"
            " FROM articles a JOIN raw_pages r ON r.id = a.raw_page_id"
            f" WHERE a.id IN ({', '.join('?' * len(chunk))}) ORDER BY a.id", chunk).fetchall()
        for article_id, fetched_at, url, html_zlib, encoding, stored_hints, outlet_id in rows:
            # The hints the crawl pipeline gave the extractor: the outlet's, then the page's own.
            base = outlet_hints.get(outlet_id, {"languages": []})
            try:
                html, _ = decode_bytes(zlib.decompress(html_zlib), encoding)
                page_hints = {**base, **json.loads(stored_hints or "{}")}
            except (zlib.error, ValueError) as exc:
                yield (article_id, fetched_at, url, f"stored page unreadable: {exc}", base["languages"]), None
                continue
            yield (article_id, fetched_at, url, None, base["languages"]), (html, url, page_hints)


def _store(archive: Archive, batch: list[tuple[int, str, dict]], summary: ReextractSummary) -> None:
    if not batch:
        return
    for changed in archive.replace_extractions(batch):
        if changed is None:
            summary.refetched += 1
        elif changed:
            summary.changed += 1
            summary.fields.update(changed)
        else:
            summary.unchanged += 1


def _failed(summary: ReextractSummary, url: str, why: str) -> None:
    summary.failed += 1
    if len(summary.failures) < 10:
        summary.failures.append((url, why))
