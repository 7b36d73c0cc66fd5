"""The standfirst: the summary a news page shows between its headline and its body.

News CMSs print the article's summary (standfirst, dek, teaser, "Vorspann", "chapeau") under
the headline and declare the same sentence to machines as its description (`og:description`,
`<meta name="description">`, JSON-LD `description`). Body extraction loses it: it sits in the
article's `<header>`, which favour-precision extraction drops whole, or in a block classed
"teaser"/"lead", or outside the container trafilatura takes for the body. Readers and the
ground truth of the shared datasets count it as text: of the corpus pages whose declared
description is shown as its own block and missing from our body, the truth contains it on 75
of 87 fundus pages, 78 of 113 andythefactory pages (the rest are annotators who left it out)
and 55 of 56 trafilatura-eval pages with a snippet on it.

The rule needs no knowledge of any site's markup: the page states its summary, and a visible
block of the page repeats it word for word. Blocks inside links, navigation, figures, forms,
asides, footers and hidden elements do not count (a teaser link to this article, a caption).
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

# A description shorter than this (words; CJK characters count as words) is a label, not a summary.
MIN_WORDS = 8
# A block repeating the description may carry a few words more (a dateline: "Essen. ...").
_SLACK = 1.25
# At most this share of the body's length (a longer "summary" is the body itself).
_MAX_SHARE = 0.5
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# Where a repeated description is not the article's own summary block.
_NOT_TEXT = {"a", "nav", "figure", "figcaption", "form", "button", "aside", "footer", "label",
             "select", "option", "noscript", "template", "script", "style", "title", "head"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
# How far up from the text node the block may be (text inside <p><span><strong>...).
_MAX_CLIMB = 4


def comparable(text: str | None) -> str:
    """Lower-cased words only: markup, punctuation and spacing differences do not count."""
    return " ".join(_WORD.findall((text or "").lower()))


def find_standfirst(tree, descriptions: list[str]) -> str | None:
    """The text of the visible block repeating one of the page's declared descriptions."""
    wanted: dict[str, tuple[str, int]] = {}  # comparable form -> (its needle, length)
    for description in descriptions:
        form = comparable(description)
        if form not in wanted and _word_count(form) >= MIN_WORDS:
            wanted[form] = (_needle(description), len(description))
    if not wanted:
        return None
    needles = {f"n{i}": needle for i, (needle, _) in enumerate(wanted.values())}
    nodes = _text_nodes(len(needles))(tree, **needles)  # one pass over the page for all
    for form, (needle, chars) in wanted.items():
        for node in nodes:
            if needle not in node:
                continue
            holder = node.getparent()
            if node.is_tail:  # text after a child element belongs to that child's parent
                holder = holder.getparent()
            block = _block_repeating(holder, form, chars)
            if block is not None:
                return " ".join(block.text_content().split())
    return None


def _needle(description: str) -> str:
    """The word to look for: the longest, preferring ASCII (never written as an entity)."""
    words = _WORD.findall(description)
    ascii_words = [w for w in words if w.isascii() and len(w) >= 5]
    return max(ascii_words or words, key=len)


@lru_cache(maxsize=8)
def _text_nodes(count: int) -> etree.XPath:
    """Text nodes of the body holding any of `count` needles ($n0, $n1, ...), scripts aside."""
    wanted = " or ".join(f"contains(., $n{i})" for i in range(count))
    return etree.XPath(f"//body//text()[{wanted}][not(parent::script or parent::style or parent::template)]")


def with_standfirst(text: str, standfirst: str | None, title: str | None = None) -> str:
    """The body with the standfirst before it, unless the body has it already.

    A summary is short beside what it summarises: a "standfirst" half as long as the body is
    the body itself, declared whole as the description (with a line of boilerplate more, or
    spaced differently). A body that opens with the headline keeps it first."""
    if not text or not standfirst:
        return text
    wanted, body = comparable(standfirst), comparable(text)
    if wanted in body or len(wanted) > _MAX_SHARE * len(body):
        return text
    paragraphs = text.split("\n\n")
    at = 1 if title and comparable(paragraphs[0]) == comparable(title) else 0
    return "\n\n".join(paragraphs[:at] + [standfirst] + paragraphs[at:])


def _block_repeating(element, wanted: str, declared_chars: int):
    """The element (or one of its close ancestors) whose text is the description."""
    for _ in range(_MAX_CLIMB):
        if element is None or not isinstance(element.tag, str):
            return None
        raw = element.text_content()
        if len(raw) > 3 * declared_chars + 200:
            return None  # far too long even with the indentation of its markup: skip the regex
        text = comparable(raw)
        if len(text) > _SLACK * len(wanted):
            return None  # a larger block that merely contains the sentence (the body itself)
        if wanted in text:
            return element if _shown_as_text(element) else None
        element = element.getparent()
    return None


def _shown_as_text(element) -> bool:
    for node in (element, *element.iterancestors()):
        if node.tag in _NOT_TEXT:
            return False
        if node.get("hidden") is not None or node.get("aria-hidden") == "true":
            return False
        if _HIDDEN_STYLE.search(node.get("style") or ""):
            return False
    return True


def _word_count(text: str) -> int:
    return len(_CJK.sub(" ", text).split()) + len(_CJK.findall(text))
