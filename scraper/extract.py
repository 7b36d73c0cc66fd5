"""Turn one fetched HTML page into an article record.

This is the single extraction code path: the crawler's worker processes, `mediawatch extract`
and `mediawatch reextract` all call :func:`extract_article`. It must stay a plain function of
(html, url, hints) with no global state that matters, so it can run in any process.

How the fields are chosen (measured in docs/extraction.md, `bench/extraction_eval.py`):
- body: trafilatura without reader comments; when that is implausibly short, the longer of
  a recall-oriented second pass and the page's JSON-LD `articleBody`;
- title/date/authors/sections/tags: what the page declares for machines (JSON-LD, OpenGraph,
  meta; see metadata.py) before trafilatura's layout heuristics, then dates written in words
  (dates.py), then the feed hints;
- language: declared, checked against py3langid on the text, then the outlet's languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import trafilatura
from trafilatura.utils import load_html

from .authors import clean_authors
from .dates import normalise_timestamp, parse_textual_date
from .language import detect_language
from .metadata import PageMetadata, page_metadata

# Bump whenever a change can alter the output for some page: `reextract` uses it to tell
# which stored articles were produced by an older extractor.
EXTRACTOR_VERSION = "2"

# Keep the whole publication timestamp; trafilatura's default output is day-only.
_DATE_PARAMS = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
# Below this many words the first pass probably caught a teaser, a caption or nothing.
_SHORT_BODY_WORDS = 100
# Visible date lines are short; longer text nodes are paragraphs that merely mention a date.
_DATE_NODE_MAX_CHARS = 80


@dataclass
class Hints:
    """What is known about a page before it is extracted.

    `feed_*` come from the RSS item or Google News sitemap entry that led to the page and fill
    fields extraction cannot find; `languages` are the outlet's declared languages, used to
    narrow language detection and as the last resort; `drop_xpath` are outlet-specific
    boilerplate selectors removed before extraction.
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
    tree = load_html(html) if html else None
    meta = page_metadata(tree) if tree is not None else PageMetadata()
    prune = list(hints.drop_xpath) or None

    doc = _bare(html, url, prune, with_metadata=True) if tree is not None else {}
    text = _normalise_paragraphs(doc.get("text") or "")
    if _word_count(text) < _SHORT_BODY_WORDS and tree is not None:
        text = _longer_body(text, html, url, prune, meta)

    outlet_languages = [c for c in [hints.feed_language, *hints.languages] if c]
    language = detect_language(text or meta.description or "", meta.languages, outlet_languages)
    return {
        "url": url,
        "canonical_url": meta.canonical_url or doc.get("url") or url,
        "title": _title(meta, doc) or hints.feed_title,
        "authors": clean_authors(meta.authors) or clean_authors(doc.get("author")),
        "published": _published(meta, doc, tree, language, outlet_languages) or normalise_timestamp(hints.feed_published),
        "language": language,
        "description": meta.description or doc.get("description"),
        "site_name": meta.site_name or doc.get("sitename"),
        "sections": meta.sections or list(doc.get("categories") or []),
        "tags": meta.tags or list(doc.get("tags") or []),
        "image": meta.image or doc.get("image"),
        "text": text,
        "word_count": _word_count(text),
        "extractor_version": EXTRACTOR_VERSION,
    }


def _bare(html, url: str, prune, *, with_metadata: bool, favor_recall: bool = False) -> dict:
    doc = trafilatura.bare_extraction(
        html,
        url=url or None,
        with_metadata=with_metadata,
        include_comments=False,  # reader comments are not the article
        favor_recall=favor_recall,
        date_extraction_params=_DATE_PARAMS if with_metadata else None,
        prune_xpath=prune,
    )
    return doc.as_dict() if doc is not None else {}


def _longer_body(text: str, html, url: str, prune, meta: PageMetadata) -> str:
    """Second chance for a short body: recall-oriented pass, or the JSON-LD articleBody."""
    candidates = [text, _normalise_paragraphs(_bare(html, url, prune, with_metadata=False, favor_recall=True).get("text") or "")]
    if meta.article_body:
        candidates.append(_normalise_paragraphs(meta.article_body))
    return max(candidates, key=_word_count)


def _title(meta: PageMetadata, doc: dict) -> str | None:
    if meta.headline:
        return meta.headline
    candidates = [t for t in (meta.og_title, doc.get("title")) if t]
    # A layout heuristic may return the site name (an <h1> logo); the <title> usually holds
    # "Site » Headline": prefer a heading that is one segment of it but not the site name.
    site = (meta.site_name or "").casefold()
    if meta.html_title:
        segments = [s.strip() for s in re.split(r"\s+[|»«·–—-]\s+|\s+::\s+", meta.html_title) if s.strip()]
        if len(segments) > 1:
            headed = [s for s in segments if s.casefold() != site and s in meta.headings]
            if headed:
                candidates.insert(0, max(headed, key=len))
    for title in candidates:
        if title.casefold() != site:
            return title
    return candidates[0] if candidates else meta.html_title


def _published(meta: PageMetadata, doc: dict, tree, language: str | None, outlet: list[str]) -> str | None:
    declared = normalise_timestamp(meta.published)
    if declared:
        return declared
    found = _clean_trafilatura_date(doc.get("date"))
    if found:
        return found
    # No machine-readable date: look for one written out in a short date-like element.
    if tree is not None:
        languages = [c for c in [language, *outlet] if c] or None
        for node in tree.xpath(
                '//*[self::time or contains(@class, "date") or contains(@class, "time") or contains(@class, "publish")'
                ' or contains(@class, "meta") or contains(@id, "date")][string-length(normalize-space()) < 120]')[:20]:
            value = " ".join(node.text_content().split())
            if value and len(value) <= _DATE_NODE_MAX_CHARS:
                parsed = parse_textual_date(value, languages)
                if parsed:
                    return parsed
    return None


def _clean_trafilatura_date(value: str | None) -> str | None:
    """trafilatura fills a missing time with midnight: keep the day only in that case."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00", value):
        return value[:10]
    return normalise_timestamp(value)


def _word_count(text: str) -> int:
    return len(text.split())


def _normalise_paragraphs(text: str) -> str:
    paragraphs = [" ".join(line.split()) for line in text.splitlines()]
    return "\n\n".join(p for p in paragraphs if p)
