"""The registry's fields, declared once: validation, defaults, the JSON Schema and the docs.

Each field's ``description`` is what it expects, worded for the person editing outlets.yml: a
load error quotes it ("field 'languages': expected a list of ISO 639-1 codes such as [kk, ru],
got 'kazakh'"), the JSON Schema (editors' completion and checks) and docs/registry.md show it.
A validator that refuses a value raises ValueError with the same kind of phrase.

Every model forbids unknown keys: a misspelled optional key is an error with a suggestion,
never a silently used default (scraper/registry/config.py words the messages).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

import pytz
from lxml import etree
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)
from pydantic_core import PydanticCustomError

from scraper.extraction.zones import country_zones
from scraper.registry.fetch_policy import allowed_host
from scraper.registry.schedules import ScheduleError, cron_trigger
from scraper.registry.urls import url_key

SOURCE_KINDS = ("feed", "sitemap", "sitemap_index", "news_sitemap", "start_page")
# incremental: what a scheduled run reads; backfill: the full archive walked by `backfill`.
SOURCE_MODES = ("incremental", "backfill")
DEFAULT_SCHEDULE = "*/30 * * * *"
DEFAULT_USER_AGENT = "mediawatch/0.1 (+https://github.com/mediawatch/mediawatch)"

# Outlet ids end up in log file names and URLs: keep them to a safe alphabet.
_OUTLET_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_LANGUAGE = re.compile(r"^[a-z]{2}$")
# Site operators must be able to reach whoever runs the crawler: a URL or an e-mail address.
_CONTACT = re.compile(r"https?://[^\s)]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")


# -- value types: each refuses a bad value with the phrase a message quotes ---------------


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an http(s) URL")
    return value


def _regex(value):
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError("a regular expression")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"a regular expression ({exc})") from None


def _one_group(pattern: re.Pattern) -> re.Pattern:
    if pattern.groups != 1:
        raise ValueError("a regular expression with exactly 1 capture group")
    return pattern


def _xpath(value: str) -> str:
    try:
        etree.XPath(value)
    except etree.XPathSyntaxError:
        raise ValueError("an XPath expression such as '//div[@id=\"article-content\"]'") from None
    return value


def _cron(value: str) -> str:
    if len(value.split()) not in (5, 6):
        raise ValueError("a cron expression of 5 fields, or 6 with seconds first, such as '*/30 * * * *'")
    try:
        # Parsed now so a bad schedule fails at load time, not when the scheduler starts.
        cron_trigger(value)
    except ScheduleError as exc:
        raise ValueError(f"a valid cron expression ({exc})") from None
    return value


def _country(value: str) -> str:
    # The extractor reads the country's time zones from it: a code it knows no zones of is wrong.
    if not country_zones(value):
        raise ValueError("an ISO 3166 country code such as KZ")
    return value.upper()


def _timezone(value: str) -> str:
    if value not in pytz.all_timezones_set:
        raise ValueError("an IANA time zone such as Asia/Almaty")
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("a list of ISO 639-1 codes such as [kk, ru]")
    return value


def _contact(value: str) -> str:
    if not _CONTACT.search(value):
        raise ValueError("a User-Agent with a contact URL or e-mail address "
                         "(e.g. 'mediawatch/0.1 (+https://example.org/contact)')")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("a non-empty string")
    return value


Text = Annotated[str, Strict(), AfterValidator(_non_empty)]
HttpUrl = Annotated[str, Strict(), AfterValidator(_http_url)]
Regex = Annotated[re.Pattern, BeforeValidator(_regex)]
XPath = Annotated[str, Strict(), AfterValidator(_xpath)]
Cron = Annotated[str, Strict(), AfterValidator(_cron)]
Language = Annotated[str, Strict(), AfterValidator(_language)]
WholeNumber = Annotated[int, Strict()]
Seconds = Annotated[float, Strict()]
Flag = Annotated[bool, Strict()]


# -- the models ------------------------------------------------------------------------------


class Source(_Model):
    """One place where article URLs are discovered."""

    kind: Literal[SOURCE_KINDS] = Field(description="one of " + ", ".join(SOURCE_KINDS))
    url: HttpUrl = Field(description="an http(s) URL")
    mode: Literal[SOURCE_MODES] = Field(
        "incremental", description="one of incremental (read by every scheduled run) or backfill "
                                   "(read by `mediawatch backfill` and deep crawls)")
    discover_feeds: Flag = Field(
        False, description="true or false: on a start_page, also read the RSS/Atom feeds it links to")
    follow_depth: WholeNumber = Field(
        0, ge=0, le=3, description="an integer from 0 to 3: on a start_page, how many levels of "
                                   "non-article pages on allowed hosts to follow")
    children: Regex | None = Field(
        None, description="a regular expression: on a sitemap_index, read only the child sitemaps "
                          "whose URL matches (default: all of them)")

    @model_validator(mode="after")
    def _children_only_on_indexes(self):
        if self.children is not None and self.kind != "sitemap_index":
            raise _field_error("children", "only on a sitemap_index source", self.children.pattern)
        return self


class DeepCrawl(_Model):
    """A second, rarer schedule that re-reads the outlet's backfill sources (its archive
    sitemaps) for the last `days` days and fetches what the frequent incremental runs missed."""

    schedule: Cron = Field(description="a cron expression such as '15 3 * * *'")
    days: WholeNumber = Field(7, ge=1, le=3650, description="a whole number of days from 1 to 3650")


class Politeness(_Model):
    """How hard the crawler may press one outlet's servers."""

    concurrency: WholeNumber = Field(2, ge=1, le=32, description="an integer from 1 to 32")
    delay: Seconds = Field(0.5, ge=0, description="a number of seconds >= 0")
    obey_robots: Flag = Field(True, description="true or false: obey robots.txt")
    # Seconds before a request that has not completed is given up (and retried).
    timeout: Seconds = Field(30, gt=0, le=600, description="a number of seconds from 0 to 600")


class Limits(_Model):
    """What one run may spend on one outlet, whatever its site serves."""

    sitemap_depth: WholeNumber = Field(
        3, ge=0, le=10, description="an integer from 0 to 10: levels of sitemap indexes followed "
                                    "below a sitemap_index source")
    urls_per_document: WholeNumber = Field(
        50_000, ge=1, le=10_000_000, description="a whole number >= 1: URLs read from one sitemap, "
                                                 "feed or page per run (sitemaps.org allows 50,000)")
    documents_per_run: WholeNumber = Field(
        2_000, ge=1, le=1_000_000, description="a whole number >= 1: sitemaps, feeds and start pages "
                                               "one run may read")
    extraction_seconds: Seconds = Field(
        60, gt=0, le=3600, description="a number of seconds from 0 to 3600: CPU time one page's "
                                       "extraction may take")
    extraction_memory_mb: WholeNumber = Field(
        1024, ge=64, le=65536, description="a whole number of MB from 64 to 65536: memory one "
                                           "page's extraction may use")
    gone_retry_days: WholeNumber = Field(
        30, ge=1, le=3650, description="a whole number of days from 1 to 3650: how long a URL that "
                                       "answered 404 or 410 is not requested again")


class Outlet(_Model):
    """One outlet: where its articles are listed, what its article URLs look like, how politely
    and when to crawl it, and what the extractor should know about its pages."""

    id: Annotated[str, Strict(), Field(pattern=_OUTLET_ID)] = Field(
        description="lowercase letters, digits, '-' or '_' (e.g. azattyq-kk)")
    name: Text = Field(description="a non-empty string")
    family: Text | None = Field(
        None, description="the name of a family (shared settings of one CMS) defined in this file "
                          "or bundled with mediawatch (scraper/registry/families.yml)")
    homepage: HttpUrl = Field(description="an http(s) URL")
    languages: Annotated[tuple[Language, ...], Field(min_length=1)] = Field(
        description="a list of ISO 639-1 codes such as [kk, ru]")
    country: Annotated[str, Strict(), AfterValidator(_country)] | None = Field(
        None, description="an ISO 3166 country code such as KZ (where the outlet publishes)")
    # Where the outlet publishes (IANA), for the local time of timestamps its pages give only
    # in UTC; without it, its country's zones are tried (scraper/extraction/zones.py).
    timezone: Annotated[str, Strict(), AfterValidator(_timezone)] | None = Field(
        None, description="an IANA time zone such as Asia/Almaty")
    region: Text | None = Field(None, description="a non-empty string (for browsing, e.g. Central Asia)")
    sources: Annotated[tuple[Source, ...], Field(min_length=1)] = Field(
        description="a non-empty list of {kind, url} entries")
    article_patterns: Annotated[tuple[Regex, ...], Field(min_length=1)] = Field(
        description="a non-empty list of regular expressions matched against an article URL's "
                    "path and query")
    # One group capturing an id that identifies an article on its host whatever slug or query
    # string the URL carries (Pangea: /a/<slug>/<id>.html).
    article_id: Annotated[Regex, AfterValidator(_one_group)] | None = Field(
        None, description="a regular expression with exactly 1 capture group: the article's id in "
                          "its URL path, so one article under two slugs is stored once")
    allowed_hosts: Annotated[tuple[Text, ...], Field(min_length=1)] = Field(
        (), description="a non-empty list of host names the crawl may fetch from (default: the "
                    "homepage's host)")
    allow_private_addresses: Flag = Field(
        False, description="true or false: let the crawl reach loopback, private and link-local "
                           "addresses (default: the registry's top-level setting, else false)")
    schedule: Cron = Field(DEFAULT_SCHEDULE, description="a cron expression of 5 fields, or 6 with "
                                                         "seconds first, such as '*/30 * * * *'")
    deep_crawl: DeepCrawl | None = Field(
        None, description="a mapping with schedule (cron) and optionally days, such as "
                          "{schedule: '15 3 * * *', days: 7}")
    politeness: Politeness = Field(
        default_factory=Politeness, description="a mapping with concurrency, delay, obey_robots, timeout")
    limits: Limits = Field(
        default_factory=Limits, description="a mapping with sitemap_depth, urls_per_document, "
                                            "documents_per_run, extraction_seconds, "
                                            "extraction_memory_mb, gone_retry_days")
    # Extraction overrides: boilerplate to remove before extraction, and the element that
    # holds the article body where trafilatura's own choice goes wrong.
    drop_xpath: tuple[XPath, ...] = Field(
        (), description="a list of XPath expressions: elements removed before extraction")
    body_xpath: XPath | None = Field(
        None, description="an XPath expression: the element holding the article body")

    @model_validator(mode="before")
    @classmethod
    def _hosts_default_to_the_homepage(cls, data):
        if isinstance(data, dict) and "allowed_hosts" not in data and isinstance(data.get("homepage"), str):
            host = urlsplit(data["homepage"]).hostname
            if host:
                data = {**data, "allowed_hosts": [host]}
        return data

    @model_validator(mode="after")
    def _deep_crawl_needs_backfill_sources(self):
        if self.deep_crawl is not None and not self.sources_for("backfill"):
            raise _field_error("deep_crawl", "a source with mode: backfill to re-read (e.g. the sitemap index)",
                               self.deep_crawl.model_dump())
        return self

    # -- what the crawl asks of an outlet --------------------------------------------------

    def is_article_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if not allowed_host(parts, self.allowed_hosts):  # another port is another host
            return False
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return any(p.search(path) for p in self.article_patterns)

    def article_key(self, url: str) -> str | None:
        """The URL key of `url` if it is one of this outlet's article URLs, else None."""
        return url_key(url, self.article_id) if self.is_article_url(url) else None

    def article_record(self, record: dict, fetched_url: str) -> dict:
        """An extraction record of a page fetched from `fetched_url`, as this outlet archives it:
        under its canonical URL and that URL's key, with the outlet's language if it has one
        and the page did not say."""
        canonical = record.get("canonical_url") or fetched_url
        if not allowed_host(canonical, self.allowed_hosts):
            # A canonical link to another host is a syndication or a misconfiguration: keep
            # the URL actually fetched.
            canonical = fetched_url
        return {**record, "url": canonical, "url_key": url_key(canonical, self.article_id),
                "language": language_or_sole(record.get("language"), self.languages)}

    def extraction_hints(self) -> dict:
        """What the extractor is told about every page of this outlet (scraper.extraction.article.Hints)."""
        return {"languages": list(self.languages), "country": self.country, "timezone": self.timezone,
                "drop_xpath": list(self.drop_xpath), "body_xpath": self.body_xpath}

    def sources_for(self, mode: str) -> list[Source]:
        return [s for s in self.sources if s.mode == mode]

    def as_row(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "homepage": self.homepage,
            "languages": ", ".join(self.languages),
            "country": self.country,
            "timezone": self.timezone,
            "region": self.region,
            "family": self.family,
            "schedule": self.schedule,
        }


class RegistryHeader(_Model):
    """The top level of a registry file (each entry of `outlets` is validated on its own, so
    one broken entry can be reported, or left out, without losing the others)."""

    user_agent: Annotated[str, Strict(), AfterValidator(_contact)] = Field(
        DEFAULT_USER_AGENT, description="a User-Agent with a contact URL or e-mail address "
                                        "(e.g. 'mediawatch/0.1 (+https://example.org/contact)')")
    allow_private_addresses: Flag = Field(
        False, description="true or false: the default of every outlet's allow_private_addresses")
    families: dict[str, dict] = Field(
        default_factory=dict, description="a mapping of family name to shared outlet settings")
    outlets: list = Field(description="a list of outlet entries")


def language_or_sole(language: str | None, outlet_languages) -> str | None:
    """An article's language, or its outlet's when the page gave none and the outlet has one."""
    return language or (outlet_languages[0] if len(outlet_languages) == 1 else None)


def _field_error(field: str, expected: str, got) -> PydanticCustomError:
    """A refusal that involves several fields, reported against the one named `field`."""
    return PydanticCustomError("registry_field", "{field}: expected {expected}",
                               {"field": field, "expected": expected, "got": got})
