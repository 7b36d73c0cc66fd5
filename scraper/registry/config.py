"""The outlet registry: which sites to crawl, how to find their articles, how politely.

A registry is a YAML file with two top-level keys:

``families``
    Shared settings for outlets built on one CMS (e.g. every RFE/RL site runs Pangea). Any
    string in a family may use ``{placeholders}`` filled from the outlet entry (``{host}``,
    ``{site_id}`` ...), so an outlet of a known family is a few lines.
``outlets``
    One entry per outlet. An entry's own keys override its family's.

Loading validates everything up front and stops with one message per problem, naming the file,
the outlet, the field and what was expected: a typo must never surface as a crawl that
silently finds nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytz
import yaml
from lxml import etree

from scraper.extraction.zones import country_zones
from scraper.registry.schedules import ScheduleError, cron_trigger
from scraper.registry.urls import url_key

DEFAULT_REGISTRY = Path(__file__).with_name("outlets.yml")

SOURCE_KINDS = ("feed", "sitemap", "sitemap_index", "news_sitemap", "start_page")
# incremental: what a scheduled run reads; backfill: the full archive walked by `backfill`.
SOURCE_MODES = ("incremental", "backfill")
DEFAULT_SCHEDULE = "*/30 * * * *"

# Outlet ids end up in log file names and URLs: keep them to a safe alphabet.
_OUTLET_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# Site operators must be able to reach whoever runs the crawler: a URL or an e-mail address.
_CONTACT = re.compile(r"https?://[^\s)]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class ConfigError(ValueError):
    """The registry is malformed. The message lists every problem found."""


@dataclass(frozen=True)
class Source:
    """One place where article URLs are discovered."""

    kind: str
    url: str
    mode: str = "incremental"
    # start_page only: look for RSS/Atom <link rel="alternate"> and read those feeds too.
    discover_feeds: bool = False
    # start_page only: how many levels of non-article pages on allowed hosts to follow.
    follow_depth: int = 0
    # sitemap_index only: read just the child sitemaps whose URL matches (None: all of them).
    children: re.Pattern | None = None


@dataclass(frozen=True)
class DeepCrawl:
    """A second, rarer schedule that re-reads the outlet's backfill sources (its archive
    sitemaps) for the last `days` days and fetches what the frequent incremental runs missed."""

    schedule: str
    days: int = 7


@dataclass(frozen=True)
class Politeness:
    concurrency: int = 2
    delay: float = 0.5
    obey_robots: bool = True
    # Seconds before a request that has not completed is given up (and retried).
    timeout: float = 30


def language_or_sole(language: str | None, outlet_languages) -> str | None:
    """An article's language, or its outlet's when the page gave none and the outlet has one."""
    return language or (outlet_languages[0] if len(outlet_languages) == 1 else None)


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    homepage: str
    languages: tuple[str, ...]
    country: str | None
    region: str | None
    family: str | None
    sources: tuple[Source, ...]
    article_patterns: tuple[re.Pattern, ...]
    # A regex with one group capturing an id that identifies an article on its host whatever
    # slug or query string the URL carries (Pangea: /a/<slug>/<id>.html).
    article_id: re.Pattern | None
    allowed_hosts: tuple[str, ...]
    schedule: str
    politeness: Politeness
    # Extraction overrides: boilerplate to remove before extraction, and the element that
    # holds the article body where trafilatura's own choice goes wrong.
    drop_xpath: tuple[str, ...] = ()
    body_xpath: str | None = None
    deep_crawl: DeepCrawl | None = None
    # Where the outlet publishes (IANA), for the local time of timestamps its pages give only
    # in UTC; without it, its country's zones are tried (scraper/extraction/zones.py).
    timezone: str | None = None

    def is_article_url(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.hostname not in self.allowed_hosts:
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
        if urlsplit(canonical).hostname not in self.allowed_hosts:
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


@dataclass
class Registry:
    path: Path
    outlets: dict[str, Outlet] = field(default_factory=dict)
    user_agent: str = "mediawatch/0.1 (+https://github.com/mediawatch/mediawatch)"
    # Only filled by a lenient load: the entries that were left out, and why.
    problems: list[str] = field(default_factory=list)

    def select(self, ids: list[str] | tuple[str, ...] | None) -> list[Outlet]:
        """The outlets named by `ids` (all of them when empty); unknown ids are an error."""
        if not ids:
            return list(self.outlets.values())
        unknown = [i for i in ids if i not in self.outlets]
        if unknown:
            raise ConfigError(
                f"{self.path}: unknown outlet {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(self.outlets)}"
            )
        return [self.outlets[i] for i in ids]


def load_registry(path: str | Path | None = None, strict: bool = True) -> Registry:
    """Read and validate a registry file (the bundled default when `path` is None).

    Strict (the default), any problem is a ConfigError listing them all. Lenient, broken
    outlet entries are left out and listed in `Registry.problems`, so a long-running
    scheduler keeps crawling the good outlets; a file that cannot be read at all is still an
    error.
    """
    path = Path(path) if path else DEFAULT_REGISTRY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: outlet registry not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("outlets"), list):
        raise ConfigError(f"{path}: expected a mapping with an 'outlets' list")
    families = data.get("families") or {}
    if not isinstance(families, dict):
        raise ConfigError(f"{path}: 'families' must be a mapping of family name to settings")

    registry = Registry(path=path)
    if data.get("user_agent"):
        registry.user_agent = str(data["user_agent"])
        if not _CONTACT.search(registry.user_agent):
            raise ConfigError(
                f"{path}: field 'user_agent': expected a User-Agent with a contact URL or e-mail"
                f" address (e.g. 'mediawatch/0.1 (+https://example.org/contact)'), got {registry.user_agent!r}"
            )
    problems: list[str] = []
    for index, entry in enumerate(data["outlets"]):
        checker = _EntryChecker(path, index, entry, families)
        outlet = checker.build()
        problems.extend(checker.problems)
        if outlet is None:
            continue
        if outlet.id in registry.outlets:
            problems.append(f"{path}: outlet '{outlet.id}': id is used twice")
            continue
        registry.outlets[outlet.id] = outlet
    if problems and strict:
        raise ConfigError("\n".join(problems))
    registry.problems = problems
    return registry


class _EntryChecker:
    """Builds one Outlet, collecting every problem instead of stopping at the first."""

    def __init__(self, path: Path, index: int, entry, families: dict):
        self.path, self.index, self.families = path, index, families
        self.problems: list[str] = []
        self.label = f"outlets[{index}]"
        self.entry = entry if isinstance(entry, dict) else {}
        if not isinstance(entry, dict):
            self._problem("entry", "a mapping of fields", entry)

    def _problem(self, field_name: str, expected: str, got) -> None:
        self.problems.append(
            f"{self.path}: outlet '{self.label}': field '{field_name}': "
            f"expected {expected}, got {got!r}"
        )

    def build(self) -> Outlet | None:
        if not self.entry:
            return None
        outlet_id = self.entry.get("id")
        if not isinstance(outlet_id, str) or not _OUTLET_ID.match(outlet_id):
            self._problem("id", "lowercase letters, digits, '-' or '_' (e.g. azattyq-kk)", outlet_id)
            return None
        self.label = outlet_id
        merged = self._merge_family()
        if merged is None:
            return None
        merged = self._fill_placeholders(merged, self.entry)
        get = _Getter(self, merged)
        homepage = get.url("homepage")
        hosts = get.str_list("allowed_hosts", required=False) or (
            [urlsplit(homepage).hostname] if homepage else []
        )
        sources = tuple(get.sources())
        outlet = Outlet(
            id=outlet_id,
            name=get.text("name"),
            homepage=homepage,
            languages=tuple(get.languages()),
            country=get.country(),
            region=get.text("region", required=False),
            family=merged.get("family"),
            sources=sources,
            article_patterns=tuple(get.patterns("article_patterns")),
            article_id=get.pattern("article_id", required=False, groups=1),
            allowed_hosts=tuple(hosts),
            schedule=get.schedule(),
            politeness=get.politeness(),
            drop_xpath=tuple(get.xpaths("drop_xpath")),
            body_xpath=get.xpath("body_xpath"),
            deep_crawl=get.deep_crawl(sources),
            timezone=get.timezone(),
        )
        return None if self.problems else outlet

    def _merge_family(self) -> dict | None:
        family_name = self.entry.get("family")
        if family_name is None:
            return dict(self.entry)
        family = self.families.get(family_name)
        if not isinstance(family, dict):
            self._problem("family", f"one of {sorted(self.families)}", family_name)
            return None
        return {**family, **self.entry}

    def _fill_placeholders(self, value, values: dict):
        if isinstance(value, str):
            def substitute(match: re.Match) -> str:
                key = match.group(1)
                if key not in values:
                    self._problem(key, f"a value for placeholder '{{{key}}}' used by the family", None)
                    return match.group(0)
                return str(values[key])

            # Regexes use {n} quantifiers; only {name} placeholders are substituted.
            return _PLACEHOLDER.sub(substitute, value)
        if isinstance(value, list):
            return [self._fill_placeholders(v, values) for v in value]
        if isinstance(value, dict):
            return {k: self._fill_placeholders(v, values) for k, v in value.items()}
        return value


class _Getter:
    """Typed access to one merged entry; each accessor reports its own problems."""

    def __init__(self, checker: _EntryChecker, data: dict):
        self.checker, self.data = checker, data

    def _missing(self, name: str, expected: str):
        self.checker._problem(name, expected, self.data.get(name))

    def text(self, name: str, required: bool = True) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, (str, int)) or not str(value).strip():
            self._missing(name, "a non-empty string")
            return None
        return str(value)

    def url(self, name: str) -> str:
        value = self.data.get(name)
        if not _is_http_url(value):
            self._missing(name, "an http(s) URL")
            return ""
        return value

    def str_list(self, name: str, required: bool = True) -> list[str]:
        value = self.data.get(name)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self._missing(name, "a non-empty list of strings")
            return []
        return value

    def xpath(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        return value if self._valid_xpath(name, value) else None

    def xpaths(self, name: str) -> list[str]:
        return [v for v in self.str_list(name, required=False) if self._valid_xpath(name, v)]

    def _valid_xpath(self, name: str, value) -> bool:
        try:
            etree.XPath(value)
        except (etree.XPathSyntaxError, TypeError):
            self.checker._problem(name, "an XPath expression such as '//div[@id=\"article-content\"]'", value)
            return False
        return True

    def country(self) -> str | None:
        value = self.data.get("country")
        if value is None:
            return None
        # The extractor reads the country's time zones from it: a code it knows no zones of is wrong.
        if not country_zones(value):
            self._missing("country", "an ISO 3166 country code such as KZ")
            return None
        return value.upper()

    def timezone(self) -> str | None:
        value = self.data.get("timezone")
        if value is None:
            return None
        if not isinstance(value, str) or value not in pytz.all_timezones_set:
            self._missing("timezone", "an IANA time zone such as Asia/Almaty")
            return None
        return value

    def languages(self) -> list[str]:
        value = self.data.get("languages")
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and _LANGUAGE.match(v) for v in value)
        ):
            self._missing("languages", "a list of ISO 639-1 codes such as [kk, ru]")
            return []
        return value

    def pattern(self, name: str, required: bool = True, groups: int | None = None):
        value = self.data.get(name)
        if value is None and not required:
            return None
        try:
            compiled = re.compile(value)
        except (re.error, TypeError) as exc:
            self._missing(name, f"a regular expression ({exc})")
            return None
        if groups is not None and compiled.groups != groups:
            self._missing(name, f"a regular expression with exactly {groups} capture group")
            return None
        return compiled

    def patterns(self, name: str) -> list[re.Pattern]:
        values = self.str_list(name)
        compiled = []
        for value in values:
            try:
                compiled.append(re.compile(value))
            except re.error as exc:
                self.checker._problem(name, f"regular expressions ({exc})", value)
        return compiled

    def sources(self) -> list[Source]:
        value = self.data.get("sources")
        if not isinstance(value, list) or not value:
            self._missing("sources", "a non-empty list of {kind, url} entries")
            return []
        sources = []
        for i, raw in enumerate(value):
            name = f"sources[{i}]"
            if not isinstance(raw, dict):
                self.checker._problem(name, "a mapping with 'kind' and 'url'", raw)
                continue
            unknown = set(raw) - {"kind", "url", "mode", "discover_feeds", "follow_depth", "children"}
            if unknown:
                self.checker._problem(
                    name, "only kind, url, mode, discover_feeds, follow_depth, children", sorted(unknown)
                )
            if raw.get("kind") not in SOURCE_KINDS:
                self.checker._problem(f"{name}.kind", f"one of {', '.join(SOURCE_KINDS)}", raw.get("kind"))
                continue
            if not _is_http_url(raw.get("url")):
                self.checker._problem(f"{name}.url", "an http(s) URL", raw.get("url"))
                continue
            mode = raw.get("mode", "incremental")
            if mode not in SOURCE_MODES:
                self.checker._problem(f"{name}.mode", f"one of {', '.join(SOURCE_MODES)}", mode)
                continue
            depth = raw.get("follow_depth", 0)
            if not isinstance(depth, int) or not 0 <= depth <= 3:
                self.checker._problem(f"{name}.follow_depth", "an integer from 0 to 3", depth)
                continue
            children = raw.get("children")
            if children is not None:
                if raw["kind"] != "sitemap_index":
                    self.checker._problem(f"{name}.children", "only on a sitemap_index source", children)
                    continue
                try:
                    children = re.compile(children)
                except (re.error, TypeError) as exc:
                    self.checker._problem(f"{name}.children", f"a regular expression ({exc})", children)
                    continue
            sources.append(
                Source(
                    kind=raw["kind"],
                    url=raw["url"],
                    mode=mode,
                    discover_feeds=bool(raw.get("discover_feeds", False)),
                    follow_depth=depth,
                    children=children,
                )
            )
        return sources

    def schedule(self) -> str:
        return self._cron("schedule", self.data.get("schedule", DEFAULT_SCHEDULE)) or DEFAULT_SCHEDULE

    def _cron(self, name: str, value) -> str | None:
        if not isinstance(value, str) or len(value.split()) not in (5, 6):
            self.checker._problem(name, "a cron expression of 5 fields, or 6 with seconds first, "
                                        "such as '*/30 * * * *'", value)
            return None
        try:
            # Parse it now so a bad schedule fails at load time, not when the scheduler starts.
            cron_trigger(value)
        except ScheduleError as exc:
            self.checker._problem(name, f"a valid cron expression ({exc})", value)
            return None
        return value

    def deep_crawl(self, sources: tuple[Source, ...]) -> DeepCrawl | None:
        value = self.data.get("deep_crawl")
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) - {"schedule", "days"} or "schedule" not in value:
            self._missing("deep_crawl", "a mapping with schedule (cron) and optionally days, such as "
                                        "{schedule: '15 3 * * *', days: 7}")
            return None
        schedule = self._cron("deep_crawl.schedule", value["schedule"])
        days = value.get("days", DeepCrawl.days)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            self.checker._problem("deep_crawl.days", "a whole number of days from 1 to 3650", days)
            return None
        if not any(source.mode == "backfill" for source in sources):
            # A family's deep crawl applies to the outlets that keep the family's backfill
            # sources; one an outlet asks for itself needs them.
            if "deep_crawl" in self.checker.entry:
                self._missing("deep_crawl", "a source with mode: backfill to re-read (e.g. the sitemap index)")
            return None
        return DeepCrawl(schedule, days) if schedule else None

    def politeness(self) -> Politeness:
        value = self.data.get("politeness") or {}
        if not isinstance(value, dict):
            self._missing("politeness", "a mapping with concurrency, delay, obey_robots, timeout")
            return Politeness()
        try:
            result = Politeness(**value)
        except TypeError:
            self._missing("politeness", "only the keys concurrency, delay, obey_robots, timeout")
            return Politeness()
        if not isinstance(result.concurrency, int) or not 1 <= result.concurrency <= 32:
            self.checker._problem("politeness.concurrency", "an integer from 1 to 32", result.concurrency)
        if not isinstance(result.delay, (int, float)) or result.delay < 0:
            self.checker._problem("politeness.delay", "a number of seconds >= 0", result.delay)
        if not isinstance(result.timeout, (int, float)) or not 0 < result.timeout <= 600:
            self.checker._problem("politeness.timeout", "a number of seconds from 0 to 600", result.timeout)
        return result


def _is_http_url(value) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
