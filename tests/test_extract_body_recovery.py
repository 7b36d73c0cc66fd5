"""Text the favour-precision body pass used to lose, recovered by general rules about news
markup (docs/extraction.md, "Cost and quality of each change"): what a reader sees in the record."""

from __future__ import annotations

import gzip
import json

import pytest

from scraper.extraction.article import extract_article
from scraper.extraction.standfirst import with_standfirst
from tests.conftest import needs_corpus

PARAGRAPHS = "".join(
    f"<p>Paragraph {n} of the report says what the council decided about the river bridge, "
    f"who spoke for it and against it, and what the works will cost the town in {2020 + n}.</p>"
    for n in range(1, 9))
STANDFIRST = "The council approved the new bridge after a year of arguments over its cost and its route."


def _page(head_extra: str, header: str, body: str = PARAGRAPHS) -> str:
    return f"""<html><head><title>Bridge approved</title>
<meta property="og:description" content="{STANDFIRST}">{head_extra}</head>
<body><article><header><h1>Bridge approved</h1>{header}</header>
<div class="article-body">{body}</div></article></body></html>"""


@pytest.fixture(scope="module")
def corpus():
    return needs_corpus()


def test_the_standfirst_under_the_headline_opens_the_text():
    out = extract_article(_page("", f'<p class="dek">{STANDFIRST}</p>'), "https://news.example/a/1.html")
    paragraphs = out["text"].split("\n\n")
    assert paragraphs[0] == STANDFIRST
    assert paragraphs[1].startswith("Paragraph 1 of the report")
    assert out["text"].count("year of arguments") == 1


@pytest.mark.parametrize("header", [
    f'<a href="/a/1.html">{STANDFIRST}</a>',  # a teaser link repeating it
    f'<figure><img src="b.jpg"><figcaption>{STANDFIRST}</figcaption></figure>',  # a caption
    f'<p class="dek" hidden>{STANDFIRST}</p>',  # not shown
    "<p>Bridge approved after a year of arguments.</p>",  # a different sentence
])
def test_a_description_that_is_not_shown_as_a_summary_is_not_added(header):
    out = extract_article(_page("", header), "https://news.example/a/1.html")
    assert "year of arguments over its cost" not in out["text"]
    assert out["text"].startswith("Paragraph 1 of the report")


def test_a_description_that_is_the_whole_text_is_not_added_twice():
    """Some pages declare their whole text as the description; the block showing it then
    holds the body with a line more ("Read more: ..."), which the body pass left out."""
    body = "First paragraph of a short notice.\n\nSecond paragraph of it, with the details."
    shown = "First paragraph of a short notice. Second paragraph of it, with the details. Read more: other news"
    assert with_standfirst(body, shown) == body
    assert with_standfirst(body, "What the town decided.") == "What the town decided.\n\n" + body


def test_a_real_pages_summary_in_its_header_is_kept(corpus):
    """NDR prints its summary as <p class="preface"> inside the article's <header>; fundus's
    truth for the page has it as the summary; the precision pass dropped the header whole."""
    root = corpus / "fundus" / "test_data" / "de"
    url = json.loads((root / "meta.info").read_text())["NDR_2025_06_18.html.gz"]["url"]
    summary = json.loads((root / "NDR.json").read_text())["V1_1"]["body"]["summary"][0]
    out = extract_article(gzip.decompress((root / "NDR_2025_06_18.html.gz").read_bytes()), url)
    assert out["text"].split("\n\n")[0] == summary
