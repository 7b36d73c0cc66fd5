"""Decode a fetched page to text, trusting what its bytes say over what its server says.

Servers and pages declare charsets (a Content-Type header, a <meta> tag) that are often wrong:
an undeclared cp1251 or KOI8-R page, one declared UTF-8 that is not, a UTF-8 page labelled
``charset=utf-16`` (which decodes "successfully" into CJK-looking garbage, so the page is
stored as having no text). One order for every page, whether fresh from the server or stored
in raw_pages (so `mediawatch reextract` repairs pages an earlier, more trusting decoder got
wrong):

1. a byte-order mark;
2. a declared UTF-16 or UTF-32, if the bytes decode to markup with it (a page in any other
   charset read as UTF-16 becomes CJK-looking text without a single tag);
3. UTF-8, when the bytes are valid UTF-8 and not plain ASCII: text in another charset almost
   never forms valid multi-byte UTF-8 sequences, so this beats any other label;
4. each other declared charset in turn (the header, then the page's own <meta>, or for a stored
   page the one recorded when it was fetched), if it is a known codec that decodes the bytes
   without error;
5. detection (charset-normalizer, limited to the Latin and Cyrillic encodings of the outlets
   monitored), and when it gives up, the first of those encodings that reads every byte;
6. UTF-8 with undecodable bytes as U+FFFD: a damaged page still gives what it can.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from scrapy.http import TextResponse
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
)

# Encodings worth considering for the outlets monitored (Latin and Cyrillic scripts).
_CANDIDATES = ["utf_8", "cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "cp1252", "iso8859_2", "cp1250"]
_WIDE = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
_MARKUP = re.compile(r"<\s*(?:!doctype|html|head|body|meta|title|div|p|a|script|link)\b", re.I)


def decode_page(response: TextResponse) -> tuple[str, str]:
    """(text, encoding name) of an HTML response."""
    header = http_content_type_encoding(response.headers.get(b"Content-Type", b"").decode("latin-1"))
    return decode_html(response.body, [header, _meta_charset(response.body)])


def decode_bytes(body: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding name) of HTML bytes without an HTTP response: a file, a stored page.

    `encoding` is the one recorded when the page was fetched: a declaration like any other,
    used only if the bytes agree with it.
    """
    return decode_html(body, [encoding, _meta_charset(body)])


def decode_html(body: bytes, declared: list[str | None]) -> tuple[str, str]:
    """(text, encoding name) of `body`, given the charsets declared for it, most trusted first."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return body[len(bom):].decode(bom_encoding, "replace"), bom_encoding
    codecs_declared = [name for name in (_codec(label) for label in declared) if name]
    # A declared UTF-16/32 is believed only if what it decodes to is markup: a page in any other
    # charset read as UTF-16 becomes CJK-looking text without a single tag.
    for name in codecs_declared:
        if name in _WIDE:
            try:
                text = body.decode(name)
            except UnicodeError:
                continue
            if _MARKUP.search(text, 0, 4096):
                return text, name
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and not text.isascii():
        return text, "utf-8"
    for name in codecs_declared:
        if name in _WIDE:
            continue
        try:
            return body.decode(name), name
        except UnicodeError:
            continue
    if text is not None:  # plain ASCII, and no declaration that fits it better
        return text, "utf-8"
    best = from_bytes(body, cp_isolation=_CANDIDATES).best()
    if best is not None:
        return str(best), best.encoding
    # Detection gave up (too little text, or text too odd): the first candidate that reads
    # every byte loses nothing (the stored bytes let reextract do better later).
    for name in _CANDIDATES[1:]:
        try:
            return body.decode(name), name
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", "replace"), "utf-8"


def _codec(label: str | None) -> str | None:
    """The Python codec name of a charset label, or None for an unknown or unsafe one."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("'\""))
    except (LookupError, ValueError):
        return None
    # Codecs that are not text encodings of a page (base64, rot13, ...) are not codecs of
    # bytes to text at all; codecs.lookup knows them too.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _meta_charset(body: bytes) -> str | None:
    try:
        return html_body_declared_encoding(body)
    except (LookupError, ValueError):
        return None
