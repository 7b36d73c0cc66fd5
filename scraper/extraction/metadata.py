"""Machine-readable metadata a page declares about itself: JSON-LD, OpenGraph/meta tags, <html lang>.

Publishers fill these for search engines and social previews, so they are usually more exact
than anything guessed from the visible layout (headline without the " | Site" suffix,
full publication timestamp with offset, author names without "By"). trafilatura reads some of
them too, but drops the time of day, the language and `articleBody`, and mixes the sources in
an order we cannot change; reading them ourselves lets `extract.py` choose per field.

Public surface: :func:`page_metadata` and the :class:`PageMetadata` it returns.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import dataclass, field

from lxml import html as lxml_html

# schema.org types that describe the article itself (not the site, breadcrumb or publisher).
_ARTICLE_TYPES = {
    "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting", "report",
    "scholarlyarticle", "techarticle", "socialmediaposting", "satiricalarticle", "posting",
    "medicalscholarlyarticle", "advertisercontentarticle", "askpublicnewsarticle", "videoobject",
    "audioobject",
}
# Pages without an Article object often put the dates on the WebPage node instead.
_PAGE_TYPES = {"webpage", "itempage", "collectionpage", "aboutpage"}


@dataclass
class PageMetadata:
    """Everything `extract.py` may want from the page head, already flattened to plain values."""

    headline: str | None = None
    article_body: str | None = None
    authors: list[str] = field(default_factory=list)  # raw names, cleaned later by authors.py
    published: str | None = None  # raw machine-readable timestamp string
    modified: str | None = None
    languages: list[str] = field(default_factory=list)  # declared, most specific source first
    description: str | None = None
    # Every distinct summary the page declares (JSON-LD, og:, meta, twitter:), first as above.
    descriptions: list[str] = field(default_factory=list)
    site_name: str | None = None
    publisher: str | None = None  # JSON-LD publisher name, where no og:site_name is given
    sections: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical_url: str | None = None
    og_title: str | None = None
    html_title: str | None = None
    headings: list[str] = field(default_factory=list)  # first <h1>/<h2> texts
    # What kind of page this is (media.py): every JSON-LD @type, og:type, <body> classes.
    jsonld_types: list[str] = field(default_factory=list)  # lower-cased, in page order
    og_type: str | None = None
    body_classes: list[str] = field(default_factory=list)
    transcript: str | None = None  # JSON-LD `transcript` of a video or audio object


def page_metadata(tree) -> PageMetadata:
    """Read JSON-LD, meta tags and a few head elements from a parsed lxml tree (not modified)."""
    result = PageMetadata()
    metas = _meta_tags(tree)
    article, page, types = _jsonld_nodes(tree)
    result.jsonld_types = types

    if article:
        result.headline = _text(article.get("headline")) or _text(article.get("name"))
        result.article_body = _text(article.get("articleBody")) or _text(article.get("text"))
        result.authors = _person_names(article.get("author")) or _person_names(article.get("creator"))
        result.sections = _string_list(article.get("articleSection"))
        result.tags = _keywords(article.get("keywords"))
        result.image = _image_url(article.get("image")) or _image_url(article.get("thumbnailUrl"))
        result.description = _text(article.get("description"))
        result.publisher = (_string_list(article.get("publisher")) or [None])[0]
        result.transcript = _text(article.get("transcript"))
    for node in (article, page):
        if node and not result.published:
            result.published = _text(node.get("datePublished")) or _text(node.get("dateCreated"))
        if node and not result.modified:
            result.modified = _text(node.get("dateModified"))

    # OpenGraph / article:* / classic meta names, used where JSON-LD says nothing.
    result.published = result.published or _first(metas, (
        "article:published_time", "og:article:published_time", "article:published",
        "datepublished", "publishdate", "publish-date", "pubdate", "date", "dc.date.issued",
        "dc.date", "dcterms.created", "sailthru.date", "parsely-pub-date", "og:published_time",
        "article.published", "published_time", "cxenseparse:recs:publishtime",
    ))
    if not result.published:
        result.published = _time_element(tree)
    result.modified = result.modified or _first(metas, ("article:modified_time", "datemodified"))
    if not result.authors:
        for key in ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author", "byl"):
            # article:author is often a profile URL rather than a name: those are useless here.
            names = [v for v in metas.get(key, []) if v and not v.startswith(("http:", "https:", "/"))]
            if names:
                result.authors = names
                break
    result.og_title = _first(metas, ("og:title", "twitter:title"))
    result.og_type = _first(metas, ("og:type",))
    body = tree.find("body")
    result.body_classes = (body.get("class") or "").split() if body is not None else []
    declared = [result.description] if result.description else []
    for key in ("og:description", "description", "twitter:description"):
        declared += metas.get(key, [])[:1]
    result.descriptions = _dedupe(declared)
    result.description = result.descriptions[0] if result.descriptions else None
    result.site_name = _first(metas, ("og:site_name", "application-name"))
    result.sections = result.sections or metas.get("article:section", [])
    result.tags = result.tags or _dedupe(metas.get("article:tag", []) + _keywords(_first(metas, ("news_keywords",))))
    result.image = result.image or _first(metas, ("og:image", "og:image:url", "twitter:image"))

    langs = []
    if article:
        langs += _string_list(article.get("inLanguage"))
    langs += [(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or "")]
    langs += metas.get("og:locale", []) + metas.get("content-language", []) + metas.get("language", [])
    result.languages = _dedupe([c for c in (_language_code(x) for x in langs) if c])

    canon = tree.xpath('//link[@rel="canonical"]/@href')
    result.canonical_url = canon[0].strip() if canon and canon[0].strip() else _first(metas, ("og:url",))
    titles = tree.xpath("//head/title//text()") or tree.xpath("//title//text()")
    result.html_title = _clean_ws(" ".join(titles)) or None
    result.headings = [t for t in (_clean_ws(h.text_content()) for h in tree.xpath("//h1|//h2")[:12]) if t]
    return result


def _meta_tags(tree) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or meta.get("http-equiv")
        value = meta.get("content")
        if key and value and value.strip():
            found.setdefault(key.strip().lower(), []).append(_clean_ws(value))
    return found


def _jsonld_nodes(tree) -> tuple[dict | None, dict | None, list[str]]:
    """Return (best article node, first web-page node, every @type) from all ld+json scripts."""
    nodes: list[dict] = []
    for script in tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        data = _load_json(script.text or "")
        if data is not None:
            _flatten(data, nodes)
    by_id = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str)}
    article = page = None
    every_type: list[str] = []
    for node in nodes:
        types = {t.lower() for t in _string_list(node.get("@type"))}
        every_type += sorted(types - set(every_type))
        if types & _ARTICLE_TYPES and not article:
            article = node
        elif types & _PAGE_TYPES and not page:
            page = node
    if article is None and page is not None and page.get("headline"):
        article = page
    if article is not None:
        article = _resolve_refs(article, by_id)
    return article, page, every_type


def _load_json(raw: str):
    raw = raw.strip().removeprefix("<!--").removesuffix("-->").strip().rstrip(";")
    if not raw:
        return None
    try:
        return json.loads(raw, strict=False)
    except ValueError:
        # Hand-written ld+json often has trailing commas; one cheap repair, then give up.
        try:
            return json.loads(re.sub(r",\s*([}\]])", r"\1", raw), strict=False)
        except ValueError:
            return None


def _flatten(data, out: list[dict]) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    elif isinstance(data, dict):
        out.append(data)
        if "@graph" in data:
            _flatten(data["@graph"], out)
        main = data.get("mainEntity") or data.get("mainEntityOfPage")
        if isinstance(main, dict) and "@type" in main:
            _flatten(main, out)


def _resolve_refs(node: dict, by_id: dict) -> dict:
    """Replace {"@id": ...} author references by the nodes they point to (Yoast-style graphs)."""
    resolved = dict(node)
    for key in ("author", "creator"):
        value = resolved.get(key)
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, dict) and set(item) <= {"@id", "@type"} and item.get("@id") in by_id:
                item = by_id[item["@id"]]
            out.append(item)
        if value is not None:
            resolved[key] = out
    return resolved


def _person_names(value) -> list[str]:
    names = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, list):
                name = " ".join(str(n) for n in name)
            if not name and (item.get("givenName") or item.get("familyName")):
                name = f"{item.get('givenName', '')} {item.get('familyName', '')}"
            if isinstance(name, str):
                names.append(name)
    return [n for n in (_clean_ws(n) for n in names) if n]


def _keywords(value) -> list[str]:
    if isinstance(value, str):
        return [k for k in (_clean_ws(x) for x in value.split(",")) if k]
    return _string_list(value)


def _string_list(value) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name") or item.get("alternateName")
        if isinstance(item, str) and _clean_ws(item):
            out.append(_clean_ws(item))
    return out


def _image_url(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _time_element(tree) -> str | None:
    # Other <time> elements in an article are too often comment or related-story dates.
    for xpath in ('//*[@itemprop="datePublished"]/@datetime', '//*[@itemprop="datePublished"]/@content'):
        values = tree.xpath(xpath)
        if values and values[0].strip():
            return values[0].strip()
    return None


def _language_code(value: str) -> str | None:
    """'en-US', 'ru_RU', 'uz-Latn' -> 'en', 'ru', 'uz'."""
    match = re.match(r"\s*([a-zA-Z]{2,3})(?:[-_]|\s*$)", value or "")
    if not match:
        return None
    code = match.group(1).lower()
    return {"nb": "no", "nn": "no", "iw": "he", "in": "id", "ji": "yi"}.get(code, code) if len(code) == 2 else None


def _first(metas: dict[str, list[str]], keys) -> str | None:
    for key in keys:
        if metas.get(key):
            return metas[key][0]
    return None


def _text(value) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if isinstance(value, dict):
        value = value.get("@value")
    if isinstance(value, str):
        # JSON-LD text fields sometimes carry HTML markup or entities.
        if "<" in value and ">" in value:
            try:
                value = lxml_html.fromstring(f"<div>{value}</div>").text_content()
            except Exception:  # noqa: BLE001 - unparsable markup: keep the raw string
                pass
        value = html_lib.unescape(value).strip()
        return value or None
    return None


def _clean_ws(value: str) -> str:
    return " ".join(value.split())


def _dedupe(items: list[str]) -> list[str]:
    seen, out = set(), []
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out
