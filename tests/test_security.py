"""Nobody writes through the web UI, no outlet id reaches the file system unchecked, and no
secret is committed."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from archive.web.serve import datasette_app, metadata_path
from tests.conftest import REPO, run_mediawatch

# Plugins known to only read. A new plugin must be checked (does it write? render stored
# HTML?) before it is added here.
READ_ONLY_PLUGINS = {
    "datasette-atom", "datasette-block-robots", "datasette-dashboards", "datasette-leaflet",
    "datasette-render-markdown", "datasette-vega", "mediawatch",
}


@pytest.fixture
def archive(tmp_path):
    from archive.store import Archive

    db = tmp_path / "archive.db"
    with Archive(db) as store:
        page = {"url": "https://x.example/a/1.html", "url_key": "x.example/1", "final_url": "https://x.example/a/1.html",
                "outlet_id": None, "status": 200, "content_type": "text/html", "encoding": "utf-8",
                "body": b"<html><body><p>Hello</p></body></html>", "hints": {}}
        store.store_page(page, {"url": page["url"], "url_key": page["url_key"], "title": "T", "text": "Hello"}, None)
    return db


def count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]


async def test_even_with_sql_allowed_nothing_can_write_to_the_archive(archive):
    app = datasette_app(archive, allow_sql=True)
    for statement in ("DELETE FROM articles", "UPDATE articles SET title = 'x'", "DROP TABLE articles",
                      "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA query_only = 0"):
        response = await app.client.get("/archive.json", params={"sql": statement})
        assert response.status_code in (400, 403), (statement, response.status_code)
    # Datasette's own query connection is opened read-only: SQLite itself refuses writes.
    with pytest.raises(Exception, match="readonly|read-only|not allowed"):
        await app.get_database("archive").execute("DELETE FROM articles")
    # Datasette 1.0's write API does not exist in the version served.
    for path in ("/archive/articles/-/insert", "/archive/-/create", "/archive/articles/1/-/delete"):
        response = await app.client.post(path, json={"row": {"title": "x"}})
        assert response.status_code >= 400, path
    assert count(archive) == 1


async def test_only_read_only_plugins_are_loaded_and_no_canned_query_writes(archive):
    plugins = (await datasette_app(archive).client.get("/-/plugins.json")).json()
    loaded = {plugin["name"] for plugin in plugins}
    assert loaded <= READ_ONLY_PLUGINS, f"unreviewed plugins: {sorted(loaded - READ_ONLY_PLUGINS)}"
    metadata = yaml.safe_load(metadata_path().read_text(encoding="utf-8"))
    queries = metadata["databases"]["archive"]["queries"]
    assert queries and not [name for name, query in queries.items() if query.get("write")]
    assert metadata.get("allow_sql") is False, "arbitrary SQL is off unless `serve --allow-sql`"
    assert metadata["databases"]["archive"]["tables"]["raw_pages"]["hidden"] is True


def test_outlet_ids_cannot_reach_outside_the_archive_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    registry = work / "outlets.yml"
    entry = {"name": "Evil", "homepage": "https://evil.example/", "languages": ["en"],
             "sources": [{"kind": "feed", "url": "https://evil.example/feed.xml"}], "article_patterns": ["^/a/"]}
    registry.write_text(yaml.safe_dump({"outlets": [{"id": "../../evil", **entry}]}), encoding="utf-8")
    db = work / "archive.db"
    result = run_mediawatch(["--outlets", str(registry), "--db", str(db), "crawl"], check=False)
    assert result.returncode != 0
    assert "outlet 'outlets[0]': field 'id': expected lowercase letters" in result.stderr
    # A valid registry, and ids that try to climb out named on the command line.
    registry.write_text(yaml.safe_dump({"outlets": [{"id": "good", **entry}]}), encoding="utf-8")
    for command in (["crawl", "../../evil"], ["run", "../../evil"], ["backfill", "../evil"]):
        result = run_mediawatch(["--outlets", str(registry), "--db", str(db), *command], check=False)
        assert result.returncode != 0 and "unknown outlet '../" in result.stderr, (command, result.stderr)
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert created == ["work", "work/outlets.yml"], created


def test_no_secret_is_committed():
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    secret = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}"
                        rb"|xox[baprs]-[A-Za-z0-9-]{10,}|(?i:(?:password|passwd|secret|api_key|token)\s*[:=]\s*['\"][^'\"\s]{8,})")
    found = []
    for name in listed.stdout.splitlines():
        path = REPO / name
        if path.is_file() and path.stat().st_size < 5_000_000 and path.suffix not in (".png", ".gz"):
            for match in secret.finditer(path.read_bytes()):
                found.append(f"{name}: {match.group(0)[:40]!r}")
    assert not found, found
