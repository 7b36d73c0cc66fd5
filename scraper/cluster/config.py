"""The cluster file: crawl hosts, Redis, pins. Kept apart from the outlet registry.

The registry says what to crawl and is the same on every machine; this file says where, and
changes when hosts come and go. A YAML mapping::

    redis: redis://10.0.0.5:6379/0
    defaults:                     # every host's, unless it says otherwise
      registry: /etc/mediawatch/outlets.yml   # the outlet registry on the host's disk
      spool: /var/lib/mediawatch/spool.db     # the host's own SQLite file
    hosts:
      crawl1: {url: "http://10.0.0.11:6800"}
      crawl2: {url: "http://10.0.0.12:6800", weight: 2}
      crawl3: {url: "http://10.0.0.13:6800", drain: true}
    pins:
      azattyq-kk: crawl2

Loading validates everything and reports every problem at once, naming the file and field,
as the registry does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from scraper.cluster.assign import placement

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_HOST_KEYS = {"url", "socket", "weight", "drain", "registry", "spool", "extract_workers", "username",
              "password_env"}
_TOP_KEYS = {"redis", "project", "defaults", "hosts", "pins", "lease_seconds", "stream_retain",
             "poll_seconds", "settle_seconds"}


class ClusterConfigError(ValueError):
    """The cluster file is malformed. The message lists every problem found."""


@dataclass(frozen=True)
class CrawlHost:
    name: str
    # Scrapyd's address; with `socket`, requests go through that unix socket instead (Scrapyd's
    # unix_socket_path) and the URL only names the host.
    url: str
    registry: str
    spool: str
    socket: str | None = None
    weight: float = 1.0
    # A drained host takes no outlets (its own move to the others); its spool still reaches
    # the archive through its publisher.
    drain: bool = False
    # Extraction processes per crawl on this host (0: one per core).
    extract_workers: int = 0
    username: str | None = None
    # The name of the environment variable holding the Scrapyd password (never the password).
    password_env: str | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        if not self.username:
            return None
        return self.username, os.environ.get(self.password_env or "", "")


@dataclass(frozen=True)
class ClusterConfig:
    path: Path
    redis_url: str
    hosts: dict[str, CrawlHost]
    pins: dict[str, str] = field(default_factory=dict)
    # The Scrapyd project name the hosts know mediawatch by.
    project: str = "mediawatch"
    # How long a crawl's outlet lease lasts without renewal (renewed every third of it).
    lease_seconds: int = 120
    # Events the writer leaves in each host's stream after applying them (for a replay).
    stream_retain: int = 10_000
    # How often the controller asks each Scrapyd about its jobs.
    poll_seconds: float = 5.0
    # How long the controller waits, after a job ended, for its run to reach the archive.
    settle_seconds: float = 60.0

    @property
    def active_hosts(self) -> dict[str, CrawlHost]:
        return {name: host for name, host in self.hosts.items() if not host.drain}

    def placement(self, outlet_ids) -> dict[str, str]:
        """outlet id -> host name, for these outlets (pins first, then rendezvous hashing)."""
        weights = {name: host.weight for name, host in self.active_hosts.items()}
        return placement(outlet_ids, weights, self.pins)

    def host_for(self, outlet_id: str) -> CrawlHost:
        return self.hosts[self.placement([outlet_id])[outlet_id]]

    def host(self, name: str) -> CrawlHost:
        try:
            return self.hosts[name]
        except KeyError:
            raise ClusterConfigError(f"{self.path}: no crawl host '{name}'; hosts: {', '.join(self.hosts)}") from None


def load_cluster(path: str | Path) -> ClusterConfig:
    """Read and validate a cluster file; ClusterConfigError lists every problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClusterConfigError(f"{path}: cluster file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ClusterConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ClusterConfigError(f"{path}: expected a mapping with 'redis' and 'hosts'")
    checker = _Checker(path)
    config = checker.build(data)
    if checker.problems:
        raise ClusterConfigError("\n".join(checker.problems))
    return config


class _Checker:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    def problem(self, where: str, expected: str, got) -> None:
        self.problems.append(f"{self.path}: field '{where}': expected {expected}, got {got!r}")

    def build(self, data: dict) -> ClusterConfig | None:
        unknown = set(data) - _TOP_KEYS
        if unknown:
            self.problem("(top level)", f"only {', '.join(sorted(_TOP_KEYS))}", sorted(unknown))
        redis_url = data.get("redis")
        if not isinstance(redis_url, str) or urlsplit(redis_url).scheme not in _REDIS_SCHEMES:
            self.problem("redis", "a Redis URL such as redis://10.0.0.5:6379/0 or unix:///run/redis.sock", redis_url)
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict):
            self.problem("defaults", "a mapping of host settings", defaults)
            defaults = {}
        hosts_data = data.get("hosts")
        hosts: dict[str, CrawlHost] = {}
        if not isinstance(hosts_data, dict) or not hosts_data:
            self.problem("hosts", "a mapping of host name to {url: ...}", hosts_data)
        else:
            for name, entry in hosts_data.items():
                host = self.host(str(name), entry, defaults)
                if host is not None:
                    hosts[host.name] = host
            if hosts and not any(not h.drain for h in hosts.values()):
                self.problem("hosts", "at least one host that is not drained", sorted(hosts))
        pins = data.get("pins") or {}
        if not isinstance(pins, dict):
            self.problem("pins", "a mapping of outlet id to host name", pins)
            pins = {}
        for outlet_id, host_name in pins.items():
            if host_name not in hosts:
                self.problem(f"pins.{outlet_id}", f"one of the hosts ({', '.join(hosts)})", host_name)
            elif hosts[host_name].drain:
                self.problem(f"pins.{outlet_id}", "a host that is not drained", host_name)
        numbers = {}
        for key, minimum, default in (("lease_seconds", 3, 120), ("stream_retain", 0, 10_000),
                                      ("poll_seconds", 0.05, 5.0), ("settle_seconds", 0, 60.0)):
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
                self.problem(key, f"a number >= {minimum}", value)
                value = default
            numbers[key] = value
        project = data.get("project", "mediawatch")
        if not isinstance(project, str) or not _NAME.match(project):
            self.problem("project", "a Scrapyd project name (letters, digits, - or _)", project)
        if self.problems:
            return None
        return ClusterConfig(path=self.path, redis_url=redis_url, hosts=hosts,
                             pins={str(k): v for k, v in pins.items()}, project=project,
                             lease_seconds=int(numbers["lease_seconds"]), stream_retain=int(numbers["stream_retain"]),
                             poll_seconds=float(numbers["poll_seconds"]),
                             settle_seconds=float(numbers["settle_seconds"]))

    def host(self, name: str, entry, defaults: dict) -> CrawlHost | None:
        where = f"hosts.{name}"
        if not _NAME.match(name):
            self.problem(where, "a host name of lowercase letters, digits, '-' or '_'", name)
            return None
        if not isinstance(entry, dict):
            self.problem(where, "a mapping with url", entry)
            return None
        merged = {**defaults, **entry}
        unknown = set(merged) - _HOST_KEYS
        if unknown:
            self.problem(where, f"only {', '.join(sorted(_HOST_KEYS))}", sorted(unknown))
        before = len(self.problems)
        url = merged.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            self.problem(f"{where}.url", "Scrapyd's http(s) URL such as http://10.0.0.11:6800", url)
        for key in ("registry", "spool"):
            value = merged.get(key)
            if not isinstance(value, str) or not value.startswith("/"):
                self.problem(f"{where}.{key}", f"an absolute path on the host's disk (or defaults.{key})", value)
        weight = merged.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            self.problem(f"{where}.weight", "a number > 0", weight)
        workers = merged.get("extract_workers", 0)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            self.problem(f"{where}.extract_workers", "a whole number >= 0 (0: one per core)", workers)
        for key in ("socket", "username", "password_env"):
            value = merged.get(key)
            if value is not None and (not isinstance(value, str) or not value):
                self.problem(f"{where}.{key}", "a non-empty string", value)
        if merged.get("password_env") and not merged.get("username"):
            self.problem(f"{where}.username", "a user name when password_env is given", None)
        drain = merged.get("drain", False)
        if not isinstance(drain, bool):
            self.problem(f"{where}.drain", "true or false", drain)
        if len(self.problems) > before:
            return None
        return CrawlHost(name=name, url=url.rstrip("/"), registry=merged["registry"], spool=merged["spool"],
                         socket=merged.get("socket"), weight=float(weight), drain=drain,
                         extract_workers=workers, username=merged.get("username"),
                         password_env=merged.get("password_env"))
