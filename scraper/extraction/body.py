"""The article body: trafilatura's extraction cascade, run once on a tree parsed once.

`trafilatura.bare_extraction` copies the tree it is given, reads every metadata field (with
htmldate's extensive date search) and compares its own result with readability and jusText
on every page. The extractor reads metadata itself (metadata.py, dates.py), so here only the
body is extracted, with the settings we use (no reader comments, favour precision), in the
order trafilatura's own sequence runs them, and:

- the tree is consumed rather than copied (the caller has read everything else from it);
- the comparison with readability/jusText runs only when the first pass is short or looks
  structurally doubtful. Measured over the 1,684 corpus pages (bench/extraction_eval.py
  pages, docs/extraction.md): the comparison changed the body on 78 pages, all but a handful
  with a first pass under 1,500 characters; on the 82 % of pages that are longer, have
  paragraph text, are not mostly tables and hold no figure/aside/time/nav element, it changed
  4 pages by a snippet or less (net zero), for ~35 % of trafilatura's CPU per page.

The recall-oriented second pass (article.py asks for it when the body is short) goes through
`trafilatura.bare_extraction` unchanged, on a fresh parse: it is rare enough that copying the
tree on every page to serve it would cost more.
"""

from __future__ import annotations

from functools import lru_cache

import trafilatura
from lxml.etree import XPath
from trafilatura.core import _forum_thread_page, _prepare_tree
from trafilatura.external import SANITIZED_XPATH, compare_extraction
from trafilatura.htmlprocessing import prune_unwanted_nodes
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor
from trafilatura.xml import xmltotxt
from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH, REMOVE_COMMENTS_XPATH

from .xpath_guard import guarded

# A first pass at least this long (characters) with paragraph text, not mostly tables and
# without elements trafilatura calls unclean, is kept without the readability/jusText check.
CONFIDENT_CHARS = 1500

_PRECISION = Extractor(output_format="python", precision=True, comments=False)
# The prunes this module runs itself, with their re:test calls guarded (xpath_guard.py: the
# same elements, measured identical on 150 corpus pages, in ~35 % less time).
_RAW_TREE_PRUNE = [guarded(x) for x in RAW_TREE_PRUNE_XPATH]
_REMOVE_COMMENTS_AND_LISTS = [guarded(x) for x in REMOVE_COMMENTS_AND_LISTS_XPATH]
_REMOVE_COMMENTS = [guarded(x) for x in REMOVE_COMMENTS_XPATH]
_HAS_PARAGRAPH_TEXT = XPath(".//p//text()")
_UNCLEAN = XPath(SANITIZED_XPATH)


@lru_cache(maxsize=256)
def compiled(expressions: tuple[str, ...]) -> list[XPath]:
    """An outlet's `drop_xpath` list compiled once per process, not once per page."""
    return [XPath(expression) for expression in expressions]


def precise_body(tree, url: str | None, prune: tuple[str, ...] = ()) -> str:
    """Body text of `tree` (consumed) in favour-precision mode without comments; "" if none."""
    options = _PRECISION
    if prune:
        tree = prune_unwanted_nodes(tree, compiled(prune))
    is_forum = _forum_thread_page(tree)
    tree = prune_unwanted_nodes(tree, _RAW_TREE_PRUNE)
    tree = prune_unwanted_nodes(tree, _REMOVE_COMMENTS_AND_LISTS)
    cleaned, backup = _prepare_tree(tree, options, url)
    if not is_forum:
        cleaned = prune_unwanted_nodes(cleaned, _REMOVE_COMMENTS)
    body, text = extract_content(cleaned, options)
    if not confident(body, text):
        # The raw tree is not needed afterwards: compare_extraction may prune it in place.
        body, text = compare_extraction(backup, tree, body, text, options)
    if len(text) < options.min_output_size:
        return ""
    return xmltotxt(body, options.formatting) or ""


def confident(body, text: str) -> bool:
    """Would trafilatura's comparison keep this first pass anyway? (see the module docstring)"""
    return (
        len(text) >= CONFIDENT_CHARS
        and bool(_HAS_PARAGRAPH_TEXT(body))
        and len(body.findall(".//table")) <= len(body.findall(".//p"))
        and not _UNCLEAN(body)
    )


def recall_body(page, url: str | None, prune: tuple[str, ...] = ()) -> str:
    """Body text in favour-recall mode (trafilatura's whole cascade; `page` is HTML or a tree)."""
    doc = trafilatura.bare_extraction(
        page, url=url or None, include_comments=False, favor_recall=True,
        prune_xpath=list(prune) or None,
    )
    return (doc.text or "") if doc is not None else ""
