"""Media items (video, audio, gallery, infographic) and the extractor's single-parse passes:
the layout searches give trafilatura's answers, the precision pass trafilatura's body."""

from __future__ import annotations

import gzip
import json

import pytest
import trafilatura
from trafilatura import metadata as trafilatura_metadata
from trafilatura.utils import load_html

from bench import extraction_eval as ev
from scraper.extraction import layout
from scraper.extraction.article import MIN_WORDS, extract_article
from scraper.extraction.body import precise_body
from tests.conftest import DEMO_DATA, needs_corpus

VIDEO_PAGE = DEMO_DATA / "site" / "www.voanews.com" / "a" / "child-care-crisis-holding-back-moms-video" / "7585900.html.gz"
VIDEO_URL = "https://www.voanews.com/a/child-care-crisis-holding-back-moms-video/7585900.html"


def _page(body_class: str = "", jsonld: dict | None = None, og_type: str | None = None, body: str = "") -> str:
    head = f'<meta property="og:type" content="{og_type}">' if og_type else ""
    if jsonld:
        head += f'<script type="application/ld+json">{json.dumps(jsonld)}</script>'
    return (f'<html lang="en"><head><title>Item</title>{head}</head>'
            f'<body class="{body_class}"><h1>Item</h1>{body}</body></html>')


def test_the_bundled_pangea_video_page_is_a_video_with_the_text_under_its_player():
    out = extract_article(gzip.decompress(VIDEO_PAGE.read_bytes()), VIDEO_URL)
    assert out["kind"] == "video"
    assert out["title"].startswith("VIDEO: America's child care crisis")
    assert out["text"].startswith("After a series of lower-paying jobs, Nicole Slemp")
    assert out["published"].startswith("2024-04-28")


@pytest.mark.parametrize("page, kind", [
    (_page("pg-media", body='<div class="c-mmp"><audio src="x.mp3"></audio></div>'), "audio"),
    (_page("pg-media", body='<div class="c-mmp"><video src="x.mp4"></video></div>'), "video"),
    (_page("pg-photo-gallery"), "gallery"),
    (_page("pg-infographic"), "infographic"),
    (_page(jsonld={"@type": "AudioObject", "name": "Podcast"}), "audio"),
    (_page(jsonld={"@type": "VideoObject", "name": "Clip"}), "video"),
    (_page(og_type="video.other"), "video"),
    # An article that embeds a video is still an article, whatever its og:type says.
    (_page(jsonld={"@graph": [{"@type": "NewsArticle", "headline": "Story"}, {"@type": "VideoObject"}]},
           og_type="video.other"), "article"),
    # Pangea's article template says so itself.
    (_page("pg-article", jsonld={"@type": "VideoObject"}), "article"),
    (_page(), "article"),
])
def test_the_kind_of_item_comes_from_what_the_page_declares(page, kind):
    assert extract_article(page, "https://www.example.org/a/item/1.html")["kind"] == kind


def test_a_media_item_keeps_its_short_description_where_an_article_would_be_empty():
    caption = "Protesters in Almaty on Sunday."
    assert len(caption.split()) < MIN_WORDS
    head = f'<meta name="description" content="{caption}">'
    gallery = _page("pg-photo-gallery").replace("<title>", head + "<title>")
    article = _page().replace("<title>", head + "<title>")
    assert extract_article(gallery, "https://www.example.org/a/g/2.html")["text"] == caption
    assert extract_article(article, "https://www.example.org/a/a/3.html")["text"] == ""


def test_a_video_transcript_is_its_text():
    transcript = "Good evening. " * 20
    page = _page(jsonld={"@type": "VideoObject", "name": "Clip", "transcript": transcript})
    assert extract_article(page, "https://www.example.org/a/v/4.html")["text"] == transcript.strip()


@pytest.fixture(scope="module")
def sample_pages():
    corpus = needs_corpus()
    pages = ev.fast_subset(ev.load_pages(corpus))
    return [(ev.read_html(p["path"]), p["url"]) for p in pages]


def test_layout_searches_answer_as_trafilatura_does(sample_pages):
    for html, _url in sample_pages:
        tree = load_html(html)
        assert layout.byline(tree) == trafilatura_metadata.extract_author(tree)
        assert layout.categories(tree) == trafilatura_metadata.extract_catstags("category", tree)
        assert layout.tags(tree) == trafilatura_metadata.extract_catstags("tag", tree)


def test_the_single_parse_precision_pass_gives_trafilaturas_body(sample_pages):
    """Skipping readability/jusText on long, clean first passes changes (almost) nothing:
    measured on 1,684 pages it changed 4 (see scraper/extraction/body.py)."""
    differ = 0
    for html, url in sample_pages:
        ours = precise_body(load_html(html), url)
        doc = trafilatura.bare_extraction(html, url=url or None, include_comments=False, favor_precision=True)
        differ += ours != ((doc.text or "") if doc is not None else "")
    assert differ <= 1, f"{differ} of {len(sample_pages)} bodies differ from trafilatura's"


def test_guarded_xpath_selects_what_trafilaturas_own_does(sample_pages):
    from trafilatura import xpaths

    from scraper.extraction.xpath_guard import guard_text, guarded, required_literals

    assert required_literals("^(?:[Cc]omment(?!ary)|comol)") == ["omment", "comol"]
    assert required_literals("a|bc") is None  # a branch without a two-character literal
    assert guard_text("//*[re:test(@class, 'x|y', 'i')]") == "//*[re:test(@class, 'x|y', 'i')]"
    lists = [xpaths.RAW_TREE_PRUNE_XPATH, xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH, xpaths.REMOVE_COMMENTS_XPATH,
             xpaths.OVERALL_DISCARD_XPATH, xpaths.PRECISION_DISCARD_XPATH]
    assert any("contains(" in guarded(x).path and "re:test" in x.path for x in lists[0])
    for html, _url in sample_pages[:20]:
        tree = load_html(html)
        for expressions in lists:
            for expression in expressions:
                assert guarded(expression)(tree) == expression(tree)


def test_an_article_page_carrying_a_video_object_stays_an_article():
    page = _page(jsonld={"@type": "VideoObject", "name": "Lead video"}, og_type="article")
    assert extract_article(page, "https://www.example.org/a/item/5.html")["kind"] == "article"
