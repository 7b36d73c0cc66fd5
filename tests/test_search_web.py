"""The served archive as analysts, researchers and attackers meet it: saved searches, plain
SQLite tools, what is kept off the web, and hostile queries against a real `mediawatch serve`.

The archive is a real demo crawl (the bundled sites through the local mirror) plus a few
articles stored the way the crawler stores them, one with a `javascript:` canonical URL.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from archive.web.serve import datasette_app
from archive.store import Archive
from tests.conftest import run_mediawatch, served_archive

DB = "demo"
HOSTILE_URL = "javascript://www.azattyq.org/%0aalert(document.domain)//a/1.html"
# Datasette as a researcher runs it: `datasette archive.db`, without mediawatch's plugin (its
# entry point is hidden from the plugin loader) and without mediawatch's metadata.
PLAIN_DATASETTE = """
import importlib.metadata as metadata, sys
everything = metadata.distributions
metadata.distributions = lambda **kw: (d for d in everything(**kw) if d.metadata["Name"] != "mediawatch")
from datasette.cli import cli
sys.exit(cli())
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    db = tmp_path_factory.mktemp("search-web") / f"{DB}.db"
    run_mediawatch(["demo", "--no-serve", "--db", str(db)])
    with Archive(db) as store:
        for n, (title, url) in enumerate([("Тоқаев Мәскеуге барды", "https://www.azattyq.org/a/40000001.html"),
                                          ("Tokayev visits Moscow", HOSTILE_URL)]):
            page = {"url_key": f"www.azattyq.org/{40000001 + n}", "url": url, "final_url": url, "outlet_id": None,
                    "status": 200, "content_type": "text/html", "encoding": "utf-8", "hints": {}, "body": b"<html></html>"}
            store.store_page(page, {"url": url, "url_key": page["url_key"], "title": title, "language": "kk" if n == 0 else "en",
                                    "published": f"2025-06-0{n + 1}T10:00:00Z", "text": title + ". Толығырақ кейін."}, None)
        with store.write() as conn:
            conn.execute("INSERT INTO crawl_runs (outlet_id, mode, started, status, pid, log_file)"
                         " VALUES (NULL, 'incremental', '2025-06-01T00:00:00Z', 'ok', 4242, '/var/log/secret-crawl.log')")
    return db


# -- saved searches ------------------------------------------------------------------------------


async def test_a_saved_search_is_listed_with_its_page_and_feed_and_the_web_cannot_save(archive):
    saved = run_mediawatch(["--db", str(archive), "searches", "save", "Tokayev, all outlets", "Токаев"])
    assert "Saved 'Tokayev, all outlets'" in saved.stdout and "tokayev" in saved.stdout
    run_mediawatch(["--db", str(archive), "searches", "save", "Kazakh only", "Тоқаев", "--language", "kk"])
    bad = run_mediawatch(["--db", str(archive), "searches", "save", "broken", "Токаев OR"], check=False)
    assert bad.returncode != 0 and "OR needs a word on both sides" in bad.stderr
    client = datasette_app(archive).client
    listing = (await client.get(f"/{DB}/saved.json")).json()
    assert [item["name"] for item in listing] == ["Kazakh only", "Tokayev, all outlets"]
    page = (await client.get(f"/{DB}/saved")).text
    assert "Tokayev, all outlets" in page and "Atom feed" in page
    feed = (await client.get(listing[1]["feed"])).text
    assert feed.count("<entry>") == 2 and "Тоқаев Мәскеуге барды" in feed
    assert (await client.get(listing[0]["page"])).status_code == 200
    # Nothing on the web writes: a form post is refused and the list is unchanged.
    for path in (f"/{DB}/saved", f"/{DB}/search", f"/{DB}/saved_searches/-/insert"):
        response = await client.post(path, data={"name": "x", "q": "y"})
        assert response.status_code >= 400, path
    assert len((await client.get(f"/{DB}/saved.json")).json()) == 2
    run_mediawatch(["--db", str(archive), "searches", "remove", "Kazakh only"])
    assert [item["name"] for item in (await client.get(f"/{DB}/saved.json")).json()] == ["Tokayev, all outlets"]


# -- plain tools -----------------------------------------------------------------------------------


def test_plain_datasette_and_sqlite_utils_search_the_archive(archive):
    word = "троннинг"  # in the demo's Kommersant article, spelled so
    plain = subprocess.run([sys.executable, "-c", PLAIN_DATASETTE, str(archive), "--get",
                            f"/{DB}/articles.json?_search={quote(word)}&_shape=array&_col=title"],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert [row["title"] for row in json.loads(plain.stdout)] == ["Легкий троннинг"]
    plugins = subprocess.run([sys.executable, "-c", PLAIN_DATASETTE, str(archive), "--get", "/-/plugins.json"],
                             capture_output=True, text=True, timeout=120)
    assert "mediawatch" not in plugins.stdout  # really plain
    searched = subprocess.run([str(Path(sys.executable).with_name("sqlite-utils")), "search", str(archive), "articles", word,
                               "-c", "title", "--csv"], capture_output=True, text=True, timeout=120)
    assert searched.returncode == 0, searched.stderr
    assert [row["title"] for row in csv.DictReader(io.StringIO(searched.stdout))] == ["Легкий троннинг"]
    # What plain tools miss: the Kazakh spelling does not find the Russian one without the fold.
    plain_kk = subprocess.run([sys.executable, "-c", PLAIN_DATASETTE, str(archive), "--get",
                               f"/{DB}/articles.json?_search={quote('Тоқаев')}&_shape=array&_col=title"],
                              capture_output=True, text=True, timeout=120)
    assert json.loads(plain_kk.stdout) == []


# -- kept off the web ----------------------------------------------------------------------------


async def test_raw_pages_pids_log_and_file_paths_are_not_served(archive):
    client = datasette_app(archive).client
    for path in (f"/{DB}/raw_pages", f"/{DB}/raw_pages.json", f"/{DB}/raw_pages.csv", f"/{DB}/raw_pages/1",
                 f"/{DB}/raw_pages/1.json", f"/{DB}/raw_pages/1.blob?_blob_column=html_zlib"):
        response = await client.get(path)
        assert response.status_code == 403, path
    databases = (await client.get("/-/databases.json")).text
    assert str(archive) not in databases and str(archive.parent) not in databases
    for path in (f"/{DB}/crawl_runs.json", f"/{DB}/crawl_runs.csv", f"/{DB}/crawl_runs",
                 f"/{DB}/crawl_runs.json?_col=pid&_col=log_file", f"/{DB}/crawl_runs.json?_facet=log_file&_facet=pid",
                 f"/{DB}/crawl_runs.json?_sort=pid", f"/{DB}/latest_runs.json", f"/{DB}/crawl_runs.json?pid=4242"):
        response = await client.get(path)
        assert response.status_code in (200, 400), path
        assert "secret-crawl.log" not in response.text and "4242" not in response.text, path
    for path in (f"/{DB}/crawl_runs/1", f"/{DB}/crawl_runs/1.json"):
        assert (await client.get(path)).status_code == 403


async def test_unknown_sort_columns_are_a_clear_400(archive):
    client = datasette_app(archive).client
    for path in (f"/{DB}/articles?_sort=nope", f"/{DB}/articles.json?_sort_desc=nope", f"/{DB}/outlets?_sort=x&_sort_desc=y"):
        response = await client.get(path)
        assert response.status_code == 400 and "sort" in response.text.lower(), path


async def test_only_http_urls_become_links_in_pages_and_feeds(archive):
    client = datasette_app(archive).client
    page = (await client.get(f"/{DB}/search?q=Tokayev")).text
    feed = (await client.get(f"/{DB}/search.atom?q=Tokayev")).text
    assert "Tokayev visits Moscow" in re.sub(r"</?mark>", "", page) and "Tokayev visits Moscow" in feed
    for text in (page, feed):
        hrefs = re.findall(r'href="([^"]*)"', text)
        assert hrefs and not [h for h in hrefs if h.lower().lstrip().startswith(("javascript", "data", "vbscript"))]
    assert "javascript:" not in feed.lower()
    assert feed.count('rel="alternate"') == 2  # the feed's own page and the Kazakh article; not the hostile one
    rows = (await client.get(f"/{DB}/search.json?q=Tokayev")).json()["rows"]
    assert {row["title"]: row["url"] for row in rows}["Tokayev visits Moscow"] is None


# -- hostile queries against a real server -------------------------------------------------------


@pytest.fixture(scope="module")
def served(archive):
    with served_archive(archive) as base:
        yield base


def timed_get(url: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            status, body = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode("utf-8", "replace")
    return time.perf_counter() - started, status, body


def test_expensive_queries_do_not_slow_other_visitors(served):
    """The query that held a SQL thread for over a minute (3 kB of `O* OR O* ...`) and friends,
    eight at once, while another visitor opens pages: every hostile one is answered within
    seconds with a reason, and the visitor's pages stay fast."""
    hostile = [
        "O* OR " * 500 + "O*",                                   # 3 kB of one-letter prefixes
        "аб* OR ва* OR ко*",                                     # short prefixes
        " OR ".join(f"сло{n}*" for n in range(40)),              # too many prefixes
        " ".join(["Токаев"] * 40),                               # too many words
        "(" * 50 + "Токаев" + ")" * 50,                          # deep brackets
        '"' + "а " * 400 + '"',                                   # a giant phrase
    ]
    urls = [f"{served}/{DB}/search?" + urlencode({"q": q}) for q in hostile]
    urls += [f"{served}/{DB}/articles.json?" + urlencode({"_search": hostile[0]}),
             f"{served}/{DB}/search.atom?" + urlencode({"q": hostile[0]})]
    normal = [f"{served}/{DB}/search?q=Tokayev", f"{served}/{DB}/articles", f"{served}/-/dashboard",
              f"{served}/{DB}/search?q={quote('троннинг')}"]
    for url in normal:  # warm up: first requests open connections and load the word list
        timed_get(url)
    quiet = [timed_get(url)[0] for url in normal]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(urls) + 1) as pool:
        attacks = [pool.submit(timed_get, url) for url in urls * 2]  # each twice: 16 at once
        visitor = [timed_get(url) for url in normal for _ in range(2)]
        answered = [attack.result(timeout=120) for attack in attacks]
    for seconds, status, body in answered:
        assert status == 400 and seconds < 10, (status, seconds, body[:300])
        assert "fts5" not in body and "syntax error" not in body
    for seconds, status, _ in visitor:
        assert status == 200
    slowest = max(seconds for seconds, _, _ in visitor)
    assert slowest < max(3.0, 4 * max(quiet)), (slowest, quiet)
