"""Atom feeds of searches, written here rather than by a generic plugin so that every value is
escaped as XML and only http(s) URLs ever become links (an archived page's canonical URL can be
`javascript:...`; a feed reader would offer it as the entry's link)."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

# Characters XML 1.0 cannot carry at all; archived text may hold them.
_NOT_XML = dict.fromkeys(c for c in range(0x20) if c not in (0x9, 0xA, 0xD))
_NOT_XML.update({0xFFFE: None, 0xFFFF: None})


def safe_link(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL with a host, else None."""
    if not isinstance(url, str) or any(ch.isspace() or ord(ch) < 0x20 for ch in url.strip()):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _text(value) -> str:
    text = "" if value is None else str(value)
    text = text.translate(_NOT_XML)
    return "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)


def _atom_time(value: str | None) -> str:
    if value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            pass
    return "1970-01-01T00:00:00Z"


def atom_feed(*, feed_id: str, title: str, self_url: str, page_url: str, entries: list[dict]) -> str:
    """An Atom document. Each entry: id, title, updated (ISO), link (original URL, shown only if
    http(s)), archived (the archive's own page for it, absolute), summary, author."""
    updated = max((_atom_time(e.get("updated")) for e in entries), default=_atom_time(None))
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"  <id>{escape(_text(feed_id))}</id>", f"  <title>{escape(_text(title))}</title>",
             f"  <updated>{updated}</updated>"]
    for rel, href in (("self", self_url), ("alternate", page_url)):
        if safe_link(href):
            lines.append(f"  <link rel={quoteattr(rel)} href={quoteattr(href)}/>")
    for entry in entries:
        lines.append("  <entry>")
        lines.append(f"    <id>{escape(_text(entry['id']))}</id>")
        lines.append(f"    <title>{escape(_text(entry.get('title') or '(untitled)'))}</title>")
        lines.append(f"    <updated>{_atom_time(entry.get('updated'))}</updated>")
        original = safe_link(entry.get("link"))
        if original:
            lines.append(f"    <link rel=\"alternate\" href={quoteattr(original)}/>")
        archived = safe_link(entry.get("archived"))
        if archived:
            lines.append(f"    <link rel=\"related\" title=\"archived copy\" href={quoteattr(archived)}/>")
        if entry.get("author"):
            lines.append(f"    <author><name>{escape(_text(entry['author']))}</name></author>")
        lines.append(f"    <summary>{escape(_text(entry.get('summary') or ''))}</summary>")
        lines.append("  </entry>")
    lines.append("</feed>")
    return "\n".join(lines) + "\n"
