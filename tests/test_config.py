"""Loading the outlet registry: valid files load, every mistake is named precisely."""

from __future__ import annotations

import textwrap

import pytest

from scraper.registry.config import ConfigError, load_registry

GOOD_OUTLET = """
  - id: example
    name: Example News
    homepage: https://news.example.org/
    languages: [kk, ru]
    sources:
      - {kind: feed, url: "https://news.example.org/rss"}
    article_patterns: ['^/a/\\d+\\.html$']
"""


def write(tmp_path, text: str):
    path = tmp_path / "outlets.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_registry(write(tmp_path, text))
    return str(info.value)


def test_default_registry_loads_every_rferl_outlet():
    registry = load_registry()
    assert {"rferl", "azattyq-kk", "azattyq-ru", "ozodlik-uz", "svoboda", "currenttime"} <= set(registry.outlets)
    azattyq = registry.outlets["azattyq-kk"]
    assert azattyq.languages == ("kk",)
    assert azattyq.allowed_hosts == ("www.azattyq.org",)
    assert [s.url for s in azattyq.sources_for("incremental")][:2] == [
        "https://www.azattyq.org/sitemap_5_news.xml.gz",
        "https://www.azattyq.org/sitemap_5_latest.xml.gz",
    ]
    assert azattyq.is_article_url("https://www.azattyq.org/a/some-slug/33423632.html")
    assert not azattyq.is_article_url("https://www.azattyq.org/z/360")
    assert not azattyq.is_article_url("https://rus.azattyq.org/a/33423632.html")


def test_a_good_entry_loads(tmp_path):
    registry = load_registry(write(tmp_path, "outlets:" + GOOD_OUTLET))
    outlet = registry.outlets["example"]
    assert outlet.languages == ("kk", "ru")
    assert outlet.schedule == "*/30 * * * *"
    assert outlet.is_article_url("https://news.example.org/a/12.html")


@pytest.mark.parametrize(
    "change, expected",
    [
        (("languages: [kk, ru]", "languages: kazakh"), "outlet 'example': field 'languages': expected a list of ISO 639-1 codes"),
        (("    name: Example News\n", ""), "outlet 'example': field 'name': expected a non-empty string, got None"),
        (("homepage: https://news.example.org/", "homepage: news.example.org"), "field 'homepage': expected an http(s) URL, got 'news.example.org'"),
        (("kind: feed", "kind: rss"), "field 'sources[0].kind': expected one of feed, sitemap"),
        (("'^/a/\\d+\\.html$'", "'^/a/(\\d+'"), "field 'article_patterns': expected regular expressions"),
        (("id: example", "id: ../../etc"), "field 'id': expected lowercase letters"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    schedule: 'every hour'"), "field 'schedule': expected a cron expression of 5 fields"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    schedule: '61 * * * *'"), "field 'schedule': expected a valid cron expression"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    politeness: {concurrency: 0}"), "field 'politeness.concurrency': expected an integer from 1 to 32, got 0"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    country: Kazakhstan"), "field 'country': expected an ISO 3166 country code such as KZ, got 'Kazakhstan'"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    deep_crawl: {schedule: '15 3 * * *'}"), "field 'deep_crawl': expected a source with mode: backfill"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    deep_crawl: {schedule: '15 25 * * *'}"), "field 'deep_crawl.schedule': expected a valid cron expression"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    deep_crawl: {schedule: '15 3 * * *', days: 0}"), "field 'deep_crawl.days': expected a whole number of days from 1 to 3650, got 0"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    deep_crawl: nightly"), "field 'deep_crawl': expected a mapping with schedule"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    body_xpath: '//div[@class='"), "field 'body_xpath': expected an XPath expression"),
        (("languages: [kk, ru]", "languages: [kk, ru]\n    drop_xpath: ['//aside', '//div[']"), "field 'drop_xpath': expected an XPath expression"),
    ],
)
def test_each_mistake_names_outlet_field_and_expectation(tmp_path, change, expected):
    old, new = change
    assert old in GOOD_OUTLET
    message = load_error(tmp_path, "outlets:" + GOOD_OUTLET.replace(old, new))
    assert expected in message
    assert str(tmp_path / "outlets.yml") in message


def test_all_problems_are_reported_at_once(tmp_path):
    broken = GOOD_OUTLET.replace("languages: [kk, ru]", "languages: []").replace("kind: feed", "kind: nope")
    message = load_error(tmp_path, "outlets:" + broken)
    assert "field 'languages'" in message and "field 'sources[0].kind'" in message


def test_family_fills_placeholders_and_entry_overrides(tmp_path):
    registry = load_registry(write(tmp_path, """
        families:
          pangea:
            homepage: "https://{host}/"
            article_patterns: ['^/a/\\d{2,}\\.html$']
            sources:
              - {kind: news_sitemap, url: "https://{host}/sitemap_{site_id}_news.xml.gz"}
            schedule: "0 * * * *"
        outlets:
          - {id: one, family: pangea, name: One, host: www.one.org, site_id: 3, languages: [ky]}
          - {id: two, family: pangea, name: Two, host: rus.one.org, site_id: 4, languages: [ru], schedule: "*/5 * * * *"}
    """))
    one, two = registry.outlets["one"], registry.outlets["two"]
    assert one.sources[0].url == "https://www.one.org/sitemap_3_news.xml.gz"
    assert one.homepage == "https://www.one.org/" and one.allowed_hosts == ("www.one.org",)
    assert one.schedule == "0 * * * *" and two.schedule == "*/5 * * * *"
    # {2,} in the regex is a quantifier, not a placeholder
    assert one.is_article_url("https://www.one.org/a/123.html")


def test_missing_placeholder_value_is_named(tmp_path):
    message = load_error(tmp_path, """
        families:
          pangea:
            homepage: "https://{host}/"
            article_patterns: ['^/a/']
            sources: [{kind: sitemap, url: "https://{host}/sitemap_{site_id}.xml"}]
        outlets:
          - {id: one, family: pangea, name: One, host: www.one.org, languages: [ky]}
    """)
    assert "outlet 'one': field 'site_id': expected a value for placeholder '{site_id}'" in message


def test_unknown_family_duplicate_id_and_bad_yaml(tmp_path):
    assert "field 'family': expected one of []" in load_error(
        tmp_path, "outlets:\n  - {id: x, family: wordpress, name: X}\n")
    assert "id is used twice" in load_error(tmp_path, "outlets:" + GOOD_OUTLET + GOOD_OUTLET)
    assert "not valid YAML" in load_error(tmp_path, "outlets: [\n")
    assert "expected a mapping with an 'outlets' list" in load_error(tmp_path, "- just a list\n")
    with pytest.raises(ConfigError, match="outlet registry not found"):
        load_registry(tmp_path / "missing.yml")


def test_selecting_an_unknown_outlet_lists_the_known_ones(tmp_path):
    registry = load_registry(write(tmp_path, "outlets:" + GOOD_OUTLET))
    with pytest.raises(ConfigError, match="unknown outlet 'nope'; known: example"):
        registry.select(["nope"])
