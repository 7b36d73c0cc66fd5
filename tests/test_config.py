"""Loading the outlet registry: valid files load, every mistake is named precisely."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from scraper.demo import DEMO_OUTLETS
from scraper.registry.config import (
    BUNDLED_FAMILIES,
    DEFAULT_REGISTRY,
    ConfigError,
    load_registry,
)
from scraper.registry.schema import DOCS_FILE, SCHEMA_FILE, render_docs, render_schema

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
        (("'^/a/\\d+\\.html$'", "'^/a/(\\d+'"), "field 'article_patterns[0]': expected a regular expression (missing )"),
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
        (("languages: [kk, ru]", "languages: [kk, ru]\n    drop_xpath: ['//aside', '//div[']"), "field 'drop_xpath[1]': expected an XPath expression"),
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
    assert "field 'family': expected one of ['pangea']" in load_error(
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


@pytest.mark.parametrize("typo, meant, value", [
    ("politness", "politeness", "{concurrency: 1}"),
    ("schedul", "schedule", "'0 * * * *'"),
    ("allowed_host", "allowed_hosts", "[news.example.org]"),
    ("time_zone", "timezone", "Asia/Almaty"),
    ("deep_crawll", "deep_crawl", "{schedule: '15 3 * * *'}"),
])
def test_a_misspelled_optional_key_is_refused_with_a_suggestion(tmp_path, typo, meant, value):
    message = load_error(tmp_path, "outlets:" + GOOD_OUTLET + f"    {typo}: {value}\n")
    assert f"outlet 'example': field '{typo}': not a known field; did you mean '{meant}'?" in message


def test_a_misspelled_required_key_is_reported_as_the_typo(tmp_path):
    message = load_error(tmp_path, "outlets:" + GOOD_OUTLET.replace("    name:", "    nmae:"))
    assert message.splitlines() == [
        f"{tmp_path / 'outlets.yml'}: outlet 'example': field 'nmae': not a known field; "
        "did you mean 'name'? ('name' is required)"
    ]


def test_misspelled_keys_are_found_at_every_level(tmp_path):
    text = "user_agnet: 'x (+https://example.org/)'\noutlets:" + GOOD_OUTLET
    assert "field 'user_agnet': not a known field; did you mean 'user_agent'?" in load_error(tmp_path, text)
    nested = GOOD_OUTLET + "    politeness: {concurency: 1}\n"
    assert "field 'politeness.concurency': not a known field; did you mean 'concurrency'?" in load_error(
        tmp_path, "outlets:" + nested)
    source = GOOD_OUTLET.replace('url: "https://news.example.org/rss"', 'ulr: "https://news.example.org/rss"')
    message = load_error(tmp_path, "outlets:" + source)
    assert "field 'sources[0].ulr': not a known field; did you mean 'url'? ('url' is required)" in message
    family = load_error(tmp_path, """
        families:
          cms: {homepage: "https://{host}/", article_patterns: ['^/a/'], sheduel: "0 * * * *",
                sources: [{kind: feed, url: "https://{host}/rss"}]}
        outlets:
          - {id: one, family: cms, name: One, host: www.one.org, languages: [ky]}
    """)
    assert "family 'cms': field 'sheduel': not a known field; did you mean 'schedule'?" in family
    assert "outlet 'one': field 'family': family 'cms' has errors" in family


def test_an_entry_may_carry_its_familys_placeholders_and_nothing_else(tmp_path):
    message = load_error(tmp_path, """
        outlets:
          - {id: one, family: pangea, name: One, host: www.one.org, site_id: 3, sitee_id: 4, languages: [ky]}
    """)
    assert "field 'sitee_id': not a known field; did you mean 'site_id'?" in message
    assert "field 'site_id'" not in message.replace("did you mean 'site_id'", "")


def test_the_readme_example_works_from_an_operators_own_file(tmp_path):
    """The bundled families can be used from any registry (README, 'Adding an outlet')."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(outlets:\n  - \{id: azattyq-kk, family: pangea.*?)```", readme, re.S).group(1)
    registry = load_registry(write(tmp_path, example))
    outlet = registry.outlets["azattyq-kk"]
    assert outlet.homepage == "https://www.azattyq.org/" and outlet.deep_crawl is not None
    assert outlet.sources[0].url == "https://www.azattyq.org/sitemap_5_news.xml.gz"
    assert "did you mean 'pangea'?" in load_error(
        tmp_path, "outlets:\n  - {id: x, family: pangae, name: X, host: a.org, site_id: 1, languages: [en]}\n")


def test_yaml_aliases_and_duplicate_keys_are_refused(tmp_path):
    bomb = "a: &a ['x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x']\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)
    ) + "outlets: [*j]\n"
    message = load_error(tmp_path, bomb)
    assert "line 2: YAML aliases (*a) are not allowed" in message
    duplicate = load_error(tmp_path, "outlets:" + GOOD_OUTLET + "    name: Other\n")
    assert "key 'name' appears twice in one mapping (first on line 3)" in duplicate


def test_json_schema_and_field_reference_are_generated_from_the_models():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), \
        "outlets.schema.json is stale: run `python -m scraper.registry.schema`"
    assert DOCS_FILE.read_text(encoding="utf-8") == render_docs(), \
        "docs/registry.md is stale: run `python -m scraper.registry.schema`"


@pytest.mark.parametrize("registry", [DEFAULT_REGISTRY, BUNDLED_FAMILIES, DEMO_OUTLETS])
def test_the_shipped_registries_name_and_pass_the_json_schema(registry):
    """What an editor with a YAML language server does with the file's first line."""
    first_line = registry.read_text(encoding="utf-8").splitlines()[0]
    schema_path = (registry.parent / first_line.split("$schema=")[1]).resolve()
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(registry.read_text("utf-8"))))
    assert errors == []


def test_the_json_schema_catches_what_an_editor_should_flag():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    bad = {"outlets": [{"id": "x", "politness": {"delay": 1}, "politeness": {"concurency": 2},
                        "sources": [{"kind": "rss", "url": "https://a.org/"}]}]}
    problems = {f"{error.json_path}: {error.message}" for error in validator.iter_errors(bad)}
    assert any(p.startswith("$.outlets[0].politness: ") for p in problems)
    assert any("concurency" in p for p in problems)
    assert any("'rss' is not one of" in p for p in problems)
