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
- language: the feed's, else declared (only among the outlet's languages), checked against
  py3langid on the text, which is restricted to the outlet's languages;
- a body of fewer than MIN_WORDS words is no article (a menu item, a caption): text is "";
- kind: "article", or the media item (video, audio, gallery, infographic) the page declares
  itself to be (media.py); a media item keeps what text it has, however short.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from htmldate import find_date
from lxml import etree
from trafilatura import metadata as trafilatura_metadata
from trafilatura.utils import load_html

from . import layout
from .authors import clean_authors
from .body import precise_body, recall_body
from .dates import local_form, normalise_timestamp, parse_textual_date
from .language import detect_language
from .media import ARTICLE, page_kind
from .metadata import PageMetadata, page_metadata
from .standfirst import find_standfirst, with_standfirst
from .zones import country_zones, in_local_time, page_country

# Bump whenever a change can alter the output for some page: `reextract` uses it to tell
# which stored articles were produced by an older extractor.
EXTRACTOR_VERSION = "9"

# Fewer words than this is what is left of a page with no article (a menu item, a caption).
MIN_WORDS = 8

# Keep the whole publication timestamp; trafilatura's default output is day-only.
_DATE_PARAMS = {
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
# Below this many characters (~100 words; counted in characters so that Chinese and Japanese,
# written without spaces, are judged alike) the first pass probably caught a teaser or nothing.
_SHORT_BODY_CHARS = 600
# Visible date lines are short; longer text nodes are paragraphs that merely mention a date.
_DATE_NODE_MAX_CHARS = 80


@dataclass
class Hints:
    """What is known about a page before it is extracted.

    `feed_*` come from the RSS item or Google News sitemap entry that led to the page and fill
    fields extraction cannot find; `languages` are the outlet's declared languages, used to
    narrow language detection and as the last resort; `drop_xpath` are outlet-specific
    boilerplate selectors removed before extraction, and `body_xpath` the element holding the
    body on that outlet's pages (text is then taken from it alone, when it matches);
    `timezone` (IANA) or else `country` (ISO 3166) say where the outlet publishes: a timestamp
    the page states only in UTC is written in that local time (scraper/extraction/zones.py), before the
    country of the page's domain is tried.
    """

    languages: list[str] = field(default_factory=list)
    feed_title: str | None = None
    feed_published: str | None = None
    feed_language: str | None = None
    drop_xpath: list[str] = field(default_factory=list)
    body_xpath: str | None = None
    country: str | None = None
    timezone: str | None = None

    @classmethod
    def from_dict(cls, data: dict | None) -> "Hints":
        data = data or {}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def extract_article(html: str | bytes, url: str, hints: Hints | dict | None = None) -> dict:
    """Extract one article. Always returns a record; `text` is "" when nothing was found."""
    if not isinstance(hints, Hints):
        hints = Hints.from_dict(hints)
    tree = load_html(html) if html else None
    page = _read_page(tree, url, html) if tree is not None else _PageReading(PageMetadata())
    meta = page.meta
    prune = tuple(hints.drop_xpath)

    chosen = _chosen_body(tree, hints.body_xpath, url, prune) if hints.body_xpath and tree is not None else ""
    if chosen:
        text = chosen  # where the outlet says the article is, however short
    elif tree is not None:
        # Everything else has been read from the tree: the body pass may consume it.
        text = _normalise_paragraphs(precise_body(tree, url, prune))
        if len(text) < _SHORT_BODY_CHARS:
            text = _longer_body(text, html, url, prune, meta)
    else:
        text = ""

    title = _feed_title(hints.feed_title, meta.html_title) or _title(meta, page.title, url) \
        or _clean_title(hints.feed_title)
    kind = page_kind(meta, page.has_audio_player)
    if kind != ARTICLE:
        text = _media_text(text, meta)
    elif _word_count(text) < MIN_WORDS:
        text = ""  # a stray menu item or caption, not an article
    elif not chosen:
        text = with_standfirst(text, page.standfirst, title)

    language = _language(text, meta, hints)
    published = _prefer_feed_time(_published(page, language, hints.languages),
                                  normalise_timestamp(hints.feed_published))
    if published and tree is not None:
        source = html if isinstance(html, str) else html.decode("utf-8", "replace")
        published = local_form(published, source)
    # Still in UTC (the page, or the feed, gave no local offset): the outlet's local time.
    zones = [hints.timezone] if hints.timezone else country_zones(hints.country or page_country(url))
    published = in_local_time(published, zones)
    return {
        "url": url,
        "canonical_url": meta.canonical_url or url,
        "title": title,
        "authors": _authors(meta, page.byline, url),
        "published": published,
        "language": language,
        "description": meta.description,
        "site_name": meta.site_name or meta.publisher,
        "sections": meta.sections or page.categories,
        "tags": meta.tags or page.tags,
        "image": meta.image,
        "kind": kind,
        "text": text,
        "word_count": _word_count(text),
        "extractor_version": EXTRACTOR_VERSION,
    }


@dataclass
class _PageReading:
    """What is read from the parsed page before the body pass consumes the tree."""

    meta: PageMetadata
    found_date: str | None = None  # htmldate's, when the page declares no full timestamp
    date_lines: list[str] = field(default_factory=list)  # short visible texts that may be dates
    byline: str | None = None  # trafilatura's visible byline, when no person is declared
    title: str | None = None  # trafilatura's heading-based title, when none is declared
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    has_audio_player: bool = False  # tells a Pangea audio page from a video page (media.py)
    standfirst: str | None = None  # the declared summary, where the page shows it (standfirst.py)


def _read_page(tree, url: str, source: str | bytes) -> _PageReading:
    """Machine-readable metadata first; layout heuristics only for the fields it leaves open.

    htmldate always runs (its structured search is cheap, and it overrules a declared date it
    finds more than a day away), but its extensive search, which reads every date-like text
    of the page and costs about 30 ms there, only when nothing else gave a date."""
    meta = page_metadata(tree)
    page = _PageReading(meta)
    declared = normalise_timestamp(meta.published)
    date_url = meta.canonical_url or url or None
    page.found_date = _clean_trafilatura_date(find_date(tree, url=date_url, extensive_search=False, **_DATE_PARAMS))
    if not (declared or page.found_date):
        page.found_date = _clean_trafilatura_date(find_date(tree, url=date_url, extensive_search=True, **_DATE_PARAMS))
        if not page.found_date:
            page.date_lines = _date_lines(tree)
    need_author, need_title = not _people(meta, url), not (meta.headline or meta.og_title)
    if need_author or need_title:
        # trafilatura's reading of the head covers tags and JSON-LD shapes ours does not.
        head = _trafilatura_head(tree)
        page.byline = (head.author or layout.byline(tree)) if need_author else None
        page.title = (head.title or trafilatura_metadata.extract_title(tree)) if need_title else None
    if not meta.sections:
        page.categories = layout.categories(tree, source)
    if not meta.tags:
        page.tags = layout.tags(tree, source)
    page.standfirst = find_standfirst(tree, meta.descriptions)
    if "pg-media" in meta.body_classes:
        page.has_audio_player = tree.find(".//audio") is not None
    return page


def _trafilatura_head(tree):
    """trafilatura's meta-tag and JSON-LD reading (as in its extract_metadata), without the
    layout searches and the date search that follow it there."""
    head = trafilatura_metadata.examine_meta(tree)
    if head.author and " " not in head.author:
        head.author = None  # trafilatura's own rule: a one-word meta author is a site or handle
    try:
        head = trafilatura_metadata.extract_meta_json(tree, head)
    except Exception:  # noqa: BLE001 - trafilatura's JSON-LD reader fails on odd graphs
        pass
    return head


def _media_text(body: str, meta: PageMetadata) -> str:
    """What text a video, audio, gallery or infographic item has, however short: the longest
    of its transcript, the text around the player and its description."""
    candidates = (body, meta.transcript or "", meta.description or "")
    return max((_normalise_paragraphs(text) for text in candidates), key=len)


def _language(text: str, meta: PageMetadata, hints: Hints) -> str | None:
    """ISO 639-1 code: the feed's, else the page's declaration checked against the text.

    The feed (a Google News sitemap's news:language) states each article's language. A page's
    declaration counts only when it is one of the outlet's languages: templates often keep a
    stale lang="en". Detection is restricted to the outlet's languages, because short texts in
    related languages (ru/uk, kk/ky) confuse detectors.
    """
    if hints.feed_language:
        return hints.feed_language.split("-")[0].lower()
    outlet = [code.lower() for code in hints.languages if code]
    declared = [code for code in meta.languages if not outlet or code in outlet]
    return detect_language(text or meta.description or "", declared, outlet)


def _chosen_body(tree, body_xpath: str, url: str, prune) -> str:
    """The text of the element the outlet's `body_xpath` selects ("" if it selects none).

    The operator has said where the article is, so the pass favours recall inside it."""
    nodes = [node for node in tree.xpath(body_xpath) if isinstance(node, etree._Element)]
    if not nodes:
        return ""
    html = "<html><body>" + "".join(etree.tostring(node, encoding="unicode") for node in nodes) + "</body></html>"
    return _normalise_paragraphs(recall_body(html, url, prune))


def _longer_body(text: str, html: str | bytes, url: str, prune, meta: PageMetadata) -> str:
    """Second chance for a short body: recall-oriented pass, or the JSON-LD articleBody.

    The first pass consumed the parsed tree; this rare pass parses the page again."""
    candidates = [text, _normalise_paragraphs(recall_body(html, url, prune))]
    if meta.article_body:
        candidates.append(_normalise_paragraphs(meta.article_body))
    return max(candidates, key=len)


def _people(meta: PageMetadata, url: str) -> list[str]:
    """Declared authors that are not the site itself."""
    site_keys = _site_keys(meta, url)
    return [a for a in clean_authors(meta.authors) if not _is_site(a, site_keys)]


def _authors(meta: PageMetadata, byline: str | None, url: str) -> list[str]:
    """Declared authors, unless they only name the site itself."""
    people = _people(meta, url)
    if not people:
        # JSON-LD often names the publisher as the author; a visible byline is better then.
        return clean_authors(byline) or clean_authors(meta.authors)
    return people


def _site_keys(meta: PageMetadata, url: str) -> set[str]:
    return {_alnum(meta.site_name), _alnum(urlsplit(url).hostname or "").removeprefix("www")} - {""}


def _title(meta: PageMetadata, heading_title: str | None, url: str) -> str | None:
    """The visible headline.

    JSON-LD `headline` and og:title are often SEO variants, and trafilatura's title can be the
    site name or carry a " - Site" suffix. The headline readers see is the page's <h1> (or an
    <h2> on older blogs), so a candidate that matches a heading wins; otherwise the first
    candidate in the order headline, trafilatura, og:title, with the site name cut off.
    """
    site_keys = _site_keys(meta, url)
    candidates = [c for c in (_clean_title(x) for x in (meta.headline, heading_title, meta.og_title)) if c]
    segments = _title_segments(meta.html_title or "")
    headings = set(meta.headings)
    for candidate in candidates + [_strip_site(c, site_keys) for c in candidates] + segments:
        if candidate in headings and not _is_site(candidate, site_keys):
            return candidate
    for candidate in candidates:
        stripped = _strip_site(candidate, site_keys)
        if stripped and not _is_site(stripped, site_keys):
            return stripped
    return next((s for s in segments if not _is_site(s, site_keys)), candidates[0] if candidates else None)


_TITLE_SEPARATOR = re.compile(r"\s+(?:[|»«·–—-]|::)\s+")


def _clean_title(value: str | None) -> str | None:
    value = " ".join(html_lib.unescape(value or "").split())
    return value or None


def _title_segments(value: str) -> list[str]:
    return [s for s in (x.strip() for x in _TITLE_SEPARATOR.split(_clean_title(value) or "")) if s]


def _alnum(value: str | None) -> str:
    return re.sub(r"\W+", "", (value or "").casefold())


def _is_site(value: str, site_keys: set[str]) -> bool:
    key = _alnum(value)
    return bool(key) and any(key == k or (len(key) > 3 and key in k) for k in site_keys)


def _strip_site(title: str, site_keys: set[str]) -> str:
    """'Headline - Site Name' -> 'Headline' when the cut part names the site (or its domain)."""
    while True:
        seps = list(_TITLE_SEPARATOR.finditer(title))
        if seps and _is_site(title[seps[-1].end():], site_keys):
            title = title[: seps[-1].start()]
        elif seps and _is_site(title[: seps[0].start()], site_keys):
            title = title[seps[0].end():]
        else:
            return title


def _published(page: _PageReading, language: str | None, outlet: list[str]) -> str | None:
    declared = normalise_timestamp(page.meta.published)
    found = page.found_date
    if declared and found and _days_apart(declared, found) > 1:
        # The declared date belongs to something else (a template default, the first
        # version of a rewritten story); htmldate weighed more evidence, trust it.
        return found
    if declared or found:
        return declared or found
    # No machine-readable date: look for one written out in a short date-like element.
    languages = [c for c in [language, *outlet] if c] or None
    for value in page.date_lines:
        parsed = parse_textual_date(value, languages)
        if parsed:
            return parsed
    return None


_DATE_LINE = etree.XPath(
    '//*[self::time or contains(@class, "date") or contains(@class, "time") or contains(@class, "publish")'
    ' or contains(@class, "meta") or contains(@id, "date")][string-length(normalize-space()) < 120]')


def _date_lines(tree) -> list[str]:
    """Texts of the first short date-like elements (a visible date line is short)."""
    lines = []
    for node in _DATE_LINE(tree)[:20]:
        value = " ".join(node.text_content().split())
        if value and len(value) <= _DATE_NODE_MAX_CHARS:
            lines.append(value)
    return lines


def _feed_title(feed_title: str | None, html_title: str | None) -> str | None:
    """The feed's title when the page's <title> contains it.

    A feed or news-sitemap title is the publisher's own statement of the headline: when the
    page's <title> contains it, it is the headline without the "Site » " decoration.
    """
    feed_title = _clean_title(feed_title)
    if feed_title and _comparable(feed_title) in _comparable(_clean_title(html_title) or ""):
        return feed_title
    return None


_TYPOGRAPHY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-"})


def _comparable(text: str) -> str:
    return " ".join(text.translate(_TYPOGRAPHY).casefold().split())


def _prefer_feed_time(published: str | None, feed_published: str | None) -> str | None:
    """The page's date, unless it is a bare day and the feed gives that day with a time."""
    if not published:
        return feed_published
    if len(published) == 10 and feed_published and len(feed_published) > 10 \
            and _days_apart(published, feed_published) <= 1:
        return feed_published
    return published


def _days_apart(a: str, b: str) -> int:
    try:
        return abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)
    except ValueError:
        return 0


def _clean_trafilatura_date(value: str | None) -> str | None:
    """trafilatura fills a missing time with midnight: keep the day only in that case."""
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00", value):
        return value[:10]
    return normalise_timestamp(value)


# Chinese, Japanese and Korean-Hanja characters: a written word each, since these scripts put
# no spaces between words (a Japanese article is otherwise "one word" and would be dropped).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _word_count(text: str) -> int:
    return len(_CJK.sub(" ", text).split()) + len(_CJK.findall(text))


def _normalise_paragraphs(text: str) -> str:
    paragraphs = [" ".join(line.split()) for line in text.splitlines()]
    return "\n\n".join(p for p in paragraphs if p)
