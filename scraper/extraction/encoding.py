"""Decode a fetched page to text when its server does not say (or lies about) the charset.

Scrapy takes the charset from the Content-Type header, a byte-order mark or a <meta> tag,
and otherwise guesses among ASCII, UTF-8 and cp1252, which turns a cp1251 or KOI8-R page
without declarations into mojibake. Here an undeclared page that is not valid UTF-8, and a
page declared UTF-8 that is not, are detected from their bytes instead.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from scrapy.http import TextResponse
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
)

# Encodings worth considering for the outlets monitored (Latin and Cyrillic scripts).
_CANDIDATES = ["utf_8", "cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "cp1252", "iso8859_2", "cp1250"]


def decode_page(response: TextResponse) -> tuple[str, str]:
    """(text, encoding name) of an HTML response."""
    body = response.body
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        return response.text, response.encoding
    declared = http_content_type_encoding(response.headers.get(b"Content-Type", b"").decode("latin-1"))
    declared = declared or html_body_declared_encoding(body)
    if declared and _normal(declared) != "utf-8":
        return response.text, response.encoding
    return _utf8_or_detected(body) or (response.text, response.encoding)


def _utf8_or_detected(body: bytes) -> tuple[str, str] | None:
    """UTF-8 if the bytes are valid UTF-8, else the detected encoding; None if none fits."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(body, cp_isolation=_CANDIDATES).best()
    return None if best is None else (str(best), best.encoding)


def _normal(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def decode_bytes(body: bytes, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding name) of HTML bytes without an HTTP response: a file, a stored page.

    `encoding` is the one recorded when the page was fetched, used as given; without one, the
    same order as for a response without a Content-Type charset: byte-order mark, <meta>
    declaration (unless it claims UTF-8 and the bytes are not), UTF-8, detection. Undecodable
    bytes become U+FFFD rather than an error: a damaged page still gives what it can.
    """
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return body[len(bom):].decode(bom_encoding, "replace"), bom_encoding
    for name in (encoding, html_body_declared_encoding(body)):
        if name and _normal(name) != "utf-8":
            try:
                return body.decode(name, "replace"), name
            except LookupError:  # an unknown charset name: carry on as if none was given
                continue
        if name:
            break
    return _utf8_or_detected(body) or (body.decode("utf-8", "replace"), "utf-8")
