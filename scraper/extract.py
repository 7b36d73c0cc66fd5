"""Turn one fetched HTML page into an article record.

This is the single extraction code path: the crawler's worker processes, `mediawatch extract`
and `mediawatch reextract` all call :func:`extract_article`. It must stay a plain function of
(html, url, hints) with no global state that matters, so it can run in any process.
"""

from __future__ import annotations

import re
from html import unescape
from dataclasses import dataclass, field

import trafilatura

# Bump whenever a change can alter the output for some page: `reextract` uses it to tell
# which stored articles were produced by an older extractor.
EXTRACTOR_VERSION = "2"

# Fewer words than this is what is left of a page with no article (a menu item, a caption).
MIN_WORDS = 8

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
    if len(text.split()) < MIN_WORDS:
        text = ""  # a stray menu item or caption, not an article
    language = _choose_language(html, text, hints)
    return {
        "url": url,
        "canonical_url": meta.get("url") or url,
        "title": _choose_title(meta.get("title"), html, _html_title(html), hints.feed_title),
        "authors": _split_authors(meta.get("author")),
        "published": _choose_published(meta.get("date"), hints.feed_published),
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


_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[|»«–—:]|::|-)\s+")


def _html_title(html: str | bytes) -> str:
    head = html[:200_000]
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    match = _TITLE_TAG.search(head)
    return unescape(" ".join(match.group(1).split())) if match else ""


def _choose_title(extracted: str | None, html: str | bytes, html_title: str,
                  feed_title: str | None) -> str | None:
    """The headline, not the site's name.

    A feed or news-sitemap title is the publisher's own statement of the headline: when the
    page's <title> contains it, it is the headline without the "Site » " decoration. Without
    one, a page titled "Site » Headline" can make trafilatura pick "Site": when the extracted
    title is the shorter part of <title> and the longer part also stands in the page (as its
    heading), the longer part is the headline.
    """
    feed_title = " ".join(feed_title.split()) if feed_title else None
    if feed_title and _comparable(feed_title) in _comparable(html_title):
        return feed_title
    if extracted:
        parts = _TITLE_SEPARATORS.split(html_title)
        longer = max(parts, key=len)
        if len(parts) > 1 and _comparable(extracted) in map(_comparable, parts) and len(longer) > len(extracted):
            body = html[html.find("</title>" if isinstance(html, str) else b"</title>"):]
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            if _comparable(longer)[:30] in _comparable(unescape(body)):
                return longer
    return extracted or feed_title


_TYPOGRAPHY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-"})


def _comparable(text: str) -> str:
    return " ".join(text.translate(_TYPOGRAPHY).casefold().split())


_HTML_LANG = re.compile(r"<html[^>]*\slang=[\"']?([a-zA-Z]{2,3})(?:[-_][a-zA-Z]+)?", re.I)
_OG_LOCALE = re.compile(r"<meta[^>]+property=[\"']og:locale[\"'][^>]+content=[\"']([a-zA-Z]{2})", re.I)


def _choose_language(html: str | bytes, text: str, hints: Hints) -> str | None:
    """ISO 639-1 code: the feed's, else the page's declaration, else detected, else the outlet's.

    A page's declaration is trusted only when it is one of the outlet's languages (templates
    often keep a stale lang="en"); detection is restricted to the outlet's languages when it
    has several, because short texts in related languages (ru/uk, kk/ky) confuse detectors.
    """
    allowed = set(hints.languages)
    if hints.feed_language:
        return hints.feed_language.split("-")[0].lower()
    head = html[:50_000].decode("utf-8", "replace") if isinstance(html, bytes) else html[:50_000]
    for pattern in (_HTML_LANG, _OG_LOCALE):
        match = pattern.search(head)
        if match and (not allowed or match.group(1).lower() in allowed):
            return match.group(1).lower()
    if len(hints.languages) == 1:
        return hints.languages[0]
    if len(text) >= 200:
        return _detect_language(text, tuple(sorted(allowed)))
    return None


def _detect_language(text: str, allowed: tuple[str, ...]) -> str | None:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = _IDENTIFIERS.get(allowed)
    if identifier is None:
        identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE)
        if allowed:
            identifier.set_languages([code for code in allowed if code in identifier.nb_classes])
        _IDENTIFIERS[allowed] = identifier
    language, _ = identifier.classify(text[:5000])
    return language


_IDENTIFIERS: dict[tuple, object] = {}


def _choose_published(extracted: str | None, feed_published: str | None) -> str | None:
    """The page's date, unless it is a bare day and the feed gives the same day with a time."""
    if not extracted:
        return feed_published
    day_only = extracted.endswith("T00:00:00") or len(extracted) == 10
    if day_only and feed_published and len(feed_published) > 10:
        return feed_published
    return extracted


def _split_authors(value: str | None) -> list[str]:
    if not value:
        return []
    return [name.strip() for name in re.split(r";|,| and ", value) if name.strip()]


def _normalise_paragraphs(text: str) -> str:
    paragraphs = [line.strip() for line in text.splitlines()]
    return "\n\n".join(p for p in paragraphs if p)
