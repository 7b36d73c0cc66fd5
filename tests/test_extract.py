"""Extraction on real pages: headline not site name, full timestamps, the right language."""

from __future__ import annotations

import gzip

import pytest

from scraper.extract import extract_article
from tests.conftest import DEMO_DATA

GV_PAGE = DEMO_DATA / "site/globalvoicesonline.org/2009/06/09/caste-based-communities-on-orkut/index.html.gz"
VOA_PAGE = DEMO_DATA / "site/www.voanews.com/a/america-s-child-care-crisis-is-holding-back-moms-without-college-degrees-/7585813.html.gz"


def page(path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def test_site_name_prefix_is_not_taken_for_the_headline():
    record = extract_article(page(GV_PAGE), "http://globalvoicesonline.org/2009/06/09/caste-based-communities-on-orkut/",
                             {"languages": ["en"]})
    assert record["title"] == "Caste Based Communities on Orkut Mirror India’s Splintered Society"
    assert record["language"] == "en"
    assert record["text"].count("\n\n") > 5


def test_feed_title_wins_when_the_page_title_contains_it():
    record = extract_article(page(GV_PAGE), "http://x/", {"feed_title": "Caste Based Communities on Orkut Mirror India's Splintered Society"})
    assert record["title"] == "Caste Based Communities on Orkut Mirror India's Splintered Society"


def test_pangea_page_gives_title_author_and_timestamp():
    record = extract_article(page(VOA_PAGE), "https://www.voanews.com/a/x/7585813.html", {"languages": ["en"]})
    assert record["title"] == "America's child care crisis is holding back moms without college degrees"
    assert record["authors"] == ["Associated Press"]
    assert record["published"].startswith("2024-04-28T07:00:00")
    assert "Nicole Slemp" in record["text"]


def test_a_bare_page_day_yields_to_the_feed_timestamp():
    html = "<html><head><meta name='date' content='2025-05-25'></head><body><article>" + "<p>Текст статьи.</p>" * 40 + "</article></body></html>"
    record = extract_article(html, "https://x.org/a/1.html", {"feed_published": "2025-05-25T10:08:58Z", "languages": ["ru"]})
    assert record["published"] == "2025-05-25T10:08:58Z"


@pytest.mark.parametrize("text, languages, expected", [
    ("Це перевірка мови, яка використовується в цьому довгому тексті про події в Україні та Росії. " * 4, ["ru", "uk"], "uk"),
    ("Это проверка языка, который используется в этом длинном тексте о событиях в Украине и России. " * 4, ["ru", "uk"], "ru"),
    ("Бұл мәтін қазақ тілінде жазылған және онда Қазақстандағы оқиғалар туралы айтылады. " * 4, ["kk", "ru"], "kk"),
])
def test_language_is_detected_among_the_outlets_languages(text, languages, expected):
    html = "<html><body><article>" + "".join(f"<p>{text}</p>" for _ in range(3)) + "</article></body></html>"
    assert extract_article(html, "https://x.org/a/1.html", {"languages": languages})["language"] == expected


def test_a_page_without_text_gives_an_empty_record_not_an_error():
    record = extract_article("<html><body><nav>Home</nav></body></html>", "https://x.org/a/1.html", None)
    assert record["text"] == "" and record["word_count"] == 0
