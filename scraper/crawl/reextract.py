"""Re-extraction: run the current extractor over the raw pages an archive already holds.

A better extractor should improve the whole archive, not only what is fetched from now on.
Every stored article keeps the zlib-compressed HTML it came from (raw_pages), so this needs
no network: each page is decoded as it was when fetched, extracted by the crawler's worker
pool with the hints the crawl used, and the article is updated through the archive's write
path (full-text search follows by its triggers), with the extractor version recorded.

An article whose page now yields no text keeps what it has: re-extraction never loses text.
A page that was stored without an article (the extractor of the day found no text in it) is
extracted too, and the article now found in it is archived as the crawl would have archived it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from tqdm import tqdm

from archive.store import Archive
from scraper.extraction import pool as workers
from scraper.extraction.article import EXTRACTOR_VERSION
from scraper.registry.config import Outlet, language_or_sole

# Articles written per transaction: big enough to amortise the commit, small enough that a
# crawl writing at the same time never waits long for the lock.
_BATCH = 100


@dataclass
class ReextractOptions:
    """Which pages to re-extract, and with what."""

    outlets: list[str] = field(default_factory=list)  # outlet ids; all when empty
    since: str | None = None  # YYYY-MM-DD: only pages fetched on or after this day
    # The outlet registry's entries by id: their extraction_hints() are the crawl's hints, and
    # their article_record() archives an article found in a page stored without one. Outlets not
    # in it get the languages, country and time zone the archive's outlets table recorded, and
    # their pages without an article are left alone (how to key their articles is unknown).
    registry: dict[str, Outlet] = field(default_factory=dict)
    workers: int | None = None
    progress: bool = True


@dataclass
class ReextractSummary:
    examined: int = 0
    changed: int = 0
    unchanged: int = 0
    kept: int = 0  # the page now yields no text: the stored article was left as it was
    found: int = 0  # new articles from pages stored without one (an older extractor found no text)
    still_empty: int = 0  # pages stored without an article that still yield no text
    elsewhere: int = 0  # pages without an article whose article is archived from another URL
    unregistered: int = 0  # pages without an article, of outlets not in the registry: left alone
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
        optional = [
            (self.found, "new articles (from pages stored without one)"),
            (self.still_empty, "pages still without article text"),
            (self.elsewhere, "pages whose article is archived from another URL"),
            (self.unregistered, "pages without an article of outlets not in the registry (left alone)"),
            (self.kept, "kept as stored (the page now yields no text)"),
            (self.refetched, "skipped (fetched again meanwhile)"),
        ]
        out += [f"{label}: {count}" for count, label in optional if count]
        out += [f"  failed: {url}: {why}" for url, why in self.failures]
        return out


class ReextractError(ValueError):
    """The request cannot be carried out (e.g. an outlet the archive does not hold)."""


class _Target(NamedTuple):
    """One stored page to re-extract: an article's page, or a page stored without one."""

    article_id: int | None
    raw_page_id: int
    fetched_at: str
    url: str
    outlet_id: str | None
    languages: list[str]
    problem: str | None = None  # why the stored page cannot be extracted


def reextract(archive: Archive, options: ReextractOptions) -> ReextractSummary:
    """Re-extract the selected stored pages: update their articles where the extraction changed,
    and archive the articles now found in pages that were stored without one."""
    summary = ReextractSummary()
    archive.index_article_pages()
    hints = _outlet_hints(archive, options)
    article_ids, bare_page_ids, summary.unregistered = _selected(archive, options)
    bar = tqdm(total=len(article_ids) + len(bare_page_ids), desc="re-extracting", unit=" pages",
               file=sys.stderr, mininterval=1.0, dynamic_ncols=True, disable=not options.progress)
    updates: list[tuple[int, str, dict]] = []
    additions: list[tuple[int, str, dict]] = []
    try:
        for target, extraction in workers.extract_many(_jobs(archive, article_ids, bare_page_ids, hints),
                                                       options.workers):
            bar.update(1)
            summary.examined += 1
            if extraction is None or extraction.record is None:
                _failed(summary, target.url, target.problem or (extraction and extraction.error) or "unknown error")
                continue
            record = extraction.record
            if target.article_id is None:
                if not _holds_item(record):
                    summary.still_empty += 1
                    continue
                record = options.registry[target.outlet_id].article_record(record, target.url)
                additions.append((target.raw_page_id, target.fetched_at, record))
            else:
                if not _holds_item(record):
                    summary.kept += 1
                    continue
                # As the crawl pipeline does: an outlet with one language gives it to every article.
                record["language"] = language_or_sole(record.get("language"), target.languages)
                updates.append((target.article_id, target.fetched_at, record))
            if len(updates) + len(additions) >= _BATCH:
                _store(archive, updates, additions, summary)
                updates, additions = [], []
        _store(archive, updates, additions, summary)
    finally:
        bar.close()
    return summary


def _holds_item(record: dict) -> bool:
    """Article text, or a media item (kept with whatever text it has, as the crawl keeps it)."""
    return bool(record.get("text")) or record.get("kind", "article") != "article"


def _selected(archive: Archive, options: ReextractOptions) -> tuple[list[int], list[int], int]:
    """(ids of the articles to re-extract, ids of the registry outlets' pages stored without an
    article, how many such pages belong to outlets not in the registry)."""
    where, params = ["r.html_zlib IS NOT NULL"], []
    if options.outlets:
        known = {row[0] for row in archive.conn.execute("SELECT DISTINCT outlet_id FROM raw_pages")}
        unknown = [o for o in options.outlets if o not in known]
        if unknown:
            raise ReextractError(f"archive {archive.path} holds no pages of outlet(s): {', '.join(unknown)}")
        where.append(f"r.outlet_id IN ({', '.join('?' * len(options.outlets))})")
        params += options.outlets
    if options.since:
        where.append("r.fetched_at >= ?")
        params.append(options.since)
    condition = " AND ".join(where)
    article_ids = [row[0] for row in archive.conn.execute(
        f"SELECT a.id FROM articles a JOIN raw_pages r ON r.id = a.raw_page_id WHERE {condition} ORDER BY a.id",
        params)]
    bare_page_ids, unregistered = [], 0
    for page_id, outlet_id in archive.conn.execute(
            f"SELECT r.id, r.outlet_id FROM raw_pages r WHERE {condition}"
            " AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.raw_page_id = r.id) ORDER BY r.id", params):
        if outlet_id in options.registry:
            bare_page_ids.append(page_id)
        else:
            unregistered += 1
    return article_ids, bare_page_ids, unregistered


def _outlet_hints(archive: Archive, options: ReextractOptions) -> dict[str, dict]:
    hints = {
        outlet_id: {"languages": [code.strip() for code in (languages or "").split(",") if code.strip()],
                    "country": country, "timezone": zone}
        for outlet_id, languages, country, zone in archive.conn.execute(
            "SELECT id, languages, country, timezone FROM outlets")
    }
    hints.update({outlet_id: outlet.extraction_hints() for outlet_id, outlet in options.registry.items()})
    return hints


_PAGE_COLUMNS = "r.id, r.fetched_at, coalesce(r.final_url, r.url), r.html_zlib, r.encoding, r.hints, r.outlet_id"


def _jobs(archive: Archive, article_ids: list[int], bare_page_ids: list[int], outlet_hints: dict[str, dict]):
    """(_Target, (html, url, hints) or None) for each article, then each page without one."""
    yield from _page_jobs(archive, article_ids, outlet_hints,
                          f"SELECT a.id, {_PAGE_COLUMNS} FROM articles a JOIN raw_pages r ON r.id = a.raw_page_id"
                          " WHERE a.id IN ({}) ORDER BY a.id")
    yield from _page_jobs(archive, bare_page_ids, outlet_hints,
                          f"SELECT NULL, {_PAGE_COLUMNS} FROM raw_pages r WHERE r.id IN ({{}}) ORDER BY r.id")


def _page_jobs(archive: Archive, ids: list[int], outlet_hints: dict[str, dict], query: str):
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start:start + _BATCH]
        rows = archive.conn.execute(query.format(", ".join("?" * len(chunk))), chunk).fetchall()
        for article_id, page_id, fetched_at, url, html_zlib, encoding, stored_hints, outlet_id in rows:
            # The hints the crawl pipeline gave the extractor: the outlet's, then the page's own.
            base = outlet_hints.get(outlet_id, {"languages": []})
            target = _Target(article_id, page_id, fetched_at, url, outlet_id, base["languages"])
            try:
                page_hints = {**base, **json.loads(stored_hints or "{}")}
            except ValueError as exc:
                yield target._replace(problem=f"stored hints unreadable: {exc}"), None
                continue
            # Decompressed and decoded in the worker: this process only reads and writes the
            # archive, so it does not become the limit of the workers' throughput.
            yield target, workers.StoredPage(html_zlib, encoding, url, page_hints)


def _store(archive: Archive, updates: list[tuple[int, str, dict]], additions: list[tuple[int, str, dict]],
           summary: ReextractSummary) -> None:
    for changed in archive.replace_extractions(updates) if updates else []:
        if changed is None:
            summary.refetched += 1
        elif changed:
            summary.changed += 1
            summary.fields.update(changed)
        else:
            summary.unchanged += 1
    for outcome in archive.add_articles(additions) if additions else []:
        if outcome is None:
            summary.refetched += 1
        elif outcome == "exists":
            summary.elsewhere += 1
        else:
            summary.found += 1


def _failed(summary: ReextractSummary, url: str, why: str) -> None:
    summary.failed += 1
    if len(summary.failures) < 10:
        summary.failures.append((url, why))
