"""Turn one fetched HTML page into an article record.

This is the single extraction code path: the crawler's worker processes, `mediawatch extract`
and `mediawatch reextract` all call :func:`extract_article`. It must stay a plain function of
(html, url, hints) with no global state that matters, so it can run in any process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import trafilatura

# Bump whenever a change can alter the output for some page: `reextract` uses it to tell
# which stored articles were produced by an older extractor.
EXTRACTOR_VERSION = "1"

# Keep the whole publication timestamp; trafilatura's default output is day-only.
_DATE_PARAMS = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}


@dataclass
class Hints:
    """What is known about a page before it is extracted.

    `feed_*` come from the RSS item or Google News sitemap entry that led to the page and fill
    fields extraction cannot find; `languages` are the outlet's declared languages, used when
    the page itself says nothing; `drop_xpath` are outlet-specific boilerplate selectors.
    """

    languages: list[str] = field(default_factory=list)
    feed_title: str | None = None
    feed_published: str | None = None
    feed_language: str | None = None
    drop_xpath: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Hints":
        data = data or {}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def extract_article(html: str | bytes, url: str, hints: Hints | dict | None = None) -> dict:
    """Extract one article. Always returns a record; `text` is "" when nothing was found."""
    if not isinstance(hints, Hints):
        hints = Hints.from_dict(hints)
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        date_extraction_params=_DATE_PARAMS,
        prune_xpath=hints.drop_xpath or None,
    )
    meta = doc.as_dict() if doc is not None else {}
    text = _normalise_paragraphs(meta.get("text") or "")
    language = hints.feed_language or (hints.languages[0] if len(hints.languages) == 1 else None)
    return {
        "url": url,
        "canonical_url": meta.get("url") or url,
        "title": meta.get("title") or hints.feed_title,
        "authors": _split_authors(meta.get("author")),
        "published": meta.get("date") or hints.feed_published,
        "language": language,
        "description": meta.get("description"),
        "site_name": meta.get("sitename"),
        "sections": list(meta.get("categories") or []),
        "tags": list(meta.get("tags") or []),
        "image": meta.get("image"),
        "text": text,
        "word_count": len(text.split()),
        "extractor_version": EXTRACTOR_VERSION,
    }


def _split_authors(value: str | None) -> list[str]:
    if not value:
        return []
    return [name.strip() for name in re.split(r";|,| and ", value) if name.strip()]


def _normalise_paragraphs(text: str) -> str:
    paragraphs = [line.strip() for line in text.splitlines()]
    return "\n\n".join(p for p in paragraphs if p)
