"""What the crawl benchmarks share: corpus pages, a site of thousands of URLs served by the
local mirror, the real CLI run as a child process, and RSS of a process tree from /proc.

The site is one host, ``news.bench.test``, whose article URLs ``/a/<n>.html`` are answered
with corpus page ``n % len(pages)``: a few hundred real pages stand for as many URLs as a
benchmark needs. ``/sitemap.xml`` is a sitemap index over 20,000-URL children, like a Pangea
site's, generated on the fly; each entry carries a lastmod (newest first) so a backfill orders
them as it would in production.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench_common import REPO, corpus_dir

from scraper.demo.mirror import MirrorConfig, MirrorHandler, MirrorServer

HOST = "news.bench.test"
SITEMAP_PAGE = 20_000
# Article-sized pages of the three extraction corpora (gzipped HTML).
CORPUS_GLOBS = (
    ("fundus", "test_data/**/*.html.gz"),
    ("andythefactory-article-extraction-dataset", "html/*.html.gz"),
    ("trafilatura-eval", "**/*.gz"),
)


def corpus_pages(limit: int | None = None) -> list[bytes]:
    """HTML of real article pages from the shared corpus, in a stable order."""
    root = corpus_dir()
    pages = []
    for folder, pattern in CORPUS_GLOBS:
        for path in sorted((root / folder).glob(pattern)):
            body = gzip.decompress(path.read_bytes())
            if b"<html" in body[:5000].lower() or b"<body" in body.lower():
                pages.append(body)
    # Shuffled once, the same way every run: any prefix is a fair mix of the three corpora.
    random.Random(0).shuffle(pages)
    return pages[:limit] if limit else pages


def as_text(page: bytes) -> str:
    """The page as a crawler hands it to the extractor (decoded; corpus pages are UTF-8)."""
    return page.decode("utf-8", "replace")


class BenchSite:
    """A mirror serving `urls` article URLs over `pages` (see the module docstring)."""

    def __init__(self, pages: list[bytes], urls: int):
        self.pages = pages
        self.urls = urls
        self.root = Path(tempfile.mkdtemp(prefix="mediawatch-bench-site-"))
        (self.root / HOST).mkdir()
        self.server = _SiteServer(self, MirrorConfig(root=self.root))

    def __enter__(self) -> "BenchSite":
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def outlets_yaml(self, path: Path) -> Path:
        """A registry with the one bench outlet, crawled as fast as the machine allows."""
        return bench_outlets_yaml(path)

    # -- generated documents -----------------------------------------------------------------

    def document(self, path: str) -> tuple[bytes, str] | None:
        if path == "/sitemap.xml":
            children = "".join(
                f"<sitemap><loc>http://{HOST}/sitemap_{i}.xml</loc></sitemap>"
                for i in range(1, (self.urls - 1) // SITEMAP_PAGE + 2)
            )
            return (_XML + f'<sitemapindex xmlns="{_NS}">{children}</sitemapindex>').encode(), "application/xml"
        if match := re.fullmatch(r"/sitemap_(\d+)\.xml", path):
            first = (int(match[1]) - 1) * SITEMAP_PAGE
            entries = "".join(
                f"<url><loc>http://{HOST}/a/{n}.html</loc><lastmod>{_lastmod(n)}</lastmod></url>"
                for n in range(first, min(first + SITEMAP_PAGE, self.urls))
            )
            return (_XML + f'<urlset xmlns="{_NS}">{entries}</urlset>').encode(), "application/xml"
        if match := re.fullmatch(r"/a/(\d+)\.html", path):
            if int(match[1]) < self.urls:
                return self.pages[int(match[1]) % len(self.pages)], "text/html; charset=utf-8"
        return None


def bench_outlets_yaml(path: Path) -> Path:
    """A registry with the one bench outlet, crawled as fast as the machine allows."""
    path.write_text(
        "user_agent: \"mediawatch-bench/0.1 (+https://example.org/contact)\"\n"
        "allow_private_addresses: true\n"  # the mirror, an HTTP proxy on 127.0.0.1
        "outlets:\n"
        f"  - id: bench\n"
        f"    name: Bench News\n"
        f"    homepage: http://{HOST}/\n"
        f"    languages: [en]\n"
        f"    article_patterns: ['^/a/\\d+\\.html$']\n"
        f"    article_id: '/a/(\\d+)\\.html$'\n"
        f"    sources:\n"
        f"      - {{kind: sitemap_index, url: 'http://{HOST}/sitemap.xml'}}\n"
        f"      - {{kind: sitemap_index, url: 'http://{HOST}/sitemap.xml', mode: backfill}}\n"
        f"    politeness: {{concurrency: 16, delay: 0, obey_robots: false}}\n",
        encoding="utf-8",
    )
    return path


_XML = '<?xml version="1.0" encoding="UTF-8"?>'
_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _lastmod(n: int) -> str:
    # Newest first, one article a minute back from a fixed moment.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_750_000_000 - 60 * n))


class _SiteHandler(MirrorHandler):
    def serve_file(self, host: str, path: str) -> None:
        # Not recorded in the mirror's hit list: 100,000 paths would grow this process, not
        # the crawler's, and nothing here reads them.
        found = self.server.site.document(path.split("?")[0]) if host == HOST else None
        if found is None:
            self.send_body(404, b"<html><body>Not found</body></html>", "text/html; charset=utf-8")
        else:
            self.send_body(200, *found)


class _SiteServer(MirrorServer):
    def __init__(self, site: BenchSite, config: MirrorConfig):
        self.site = site
        super().__init__(config)
        self.RequestHandlerClass = _SiteHandler


# -- the real CLI ------------------------------------------------------------------------------


@dataclass
class TreeSampler:
    """Samples the RSS of a process and all its descendants from /proc, in a thread."""

    pid: int
    interval: float = 0.5
    # Called at each sample; its result is kept with it (e.g. pages stored so far).
    probe: Callable[[], object] | None = None
    samples: list[tuple[float, int, object]] = field(default_factory=list)  # (seconds, bytes, probe)
    root_cpu: float = 0.0  # CPU seconds of `pid` itself, as last seen before it exited

    def __post_init__(self):
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss(self.pid)
            self.root_cpu = max(self.root_cpu, cpu_seconds(self.pid))
            if rss:
                measured = self.probe() if self.probe else None
                self.samples.append((time.monotonic() - self._start, rss, measured))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((rss for _, rss, _ in self.samples), default=0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process (0 once it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants (0 once it has exited)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            statm = Path(entry.path, "statm").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
        rss[int(entry.name)] = int(statm.split()[1]) * page
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total


def mediawatch(args: list[str], site: BenchSite, *, interval: float = 0.5,
               probe: Callable[[], object] | None = None) -> tuple[float, TreeSampler, subprocess.CompletedProcess]:
    """Run `python -m scraper.cli ARGS` through the site's proxy; (seconds, RSS samples, result)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(site.server.proxy_env())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "scraper.cli", *args], env=env, cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=err)
        sampler = TreeSampler(process.pid, interval, probe)
        returncode = process.wait()
        elapsed = time.perf_counter() - started
        sampler.stop()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    result = subprocess.CompletedProcess(process.args, returncode, "", stderr)
    if returncode != 0:
        raise SystemExit(f"mediawatch {' '.join(args)} exited {returncode}:\n{stderr[-3000:]}")
    return elapsed, sampler, result


def mb(value: float) -> str:
    return f"{value / 1e6:.0f} MB"
