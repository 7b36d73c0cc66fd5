"""Serve an archive with Datasette and the project's metadata."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

# The metadata is written for a database called "archive"; the real name is the file's stem.
METADATA_DB_KEY = "archive"

SETTINGS = {
    "truncate_cells_html": 300,
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 300,
    "suggest_facets": False,
    "default_page_size": 50,
}


def metadata_path() -> Path:
    """datasette-metadata.yml: next to the package in a checkout, inside it when installed."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "datasette-metadata.yml", here.parent / "scraper" / "datasette-metadata.yml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("datasette-metadata.yml not found next to the mediawatch package")


TEMPLATES = Path(__file__).with_name("templates")


def load_metadata(db_path: str | Path, allow_sql: bool = False) -> dict:
    """The project's metadata, with every reference to the `archive` database pointed at
    this archive's real name (its file stem): the database section, dashboard charts' `db`,
    and /archive/ links in descriptions.

    Arbitrary SQL is refused (``allow_sql: false`` in the metadata) unless `allow_sql`:
    canned queries, tables and search still work, but nobody can run an expensive or
    data-dumping query of their own on a public instance.
    """
    metadata = yaml.safe_load(metadata_path().read_text(encoding="utf-8"))
    if allow_sql:
        metadata.pop("allow_sql", None)
    name = Path(db_path).stem
    return _rename_database(metadata, name) if name != METADATA_DB_KEY else metadata


def _rename_database(value, name: str, key: str | None = None):
    if isinstance(value, dict):
        return {
            (name if k == METADATA_DB_KEY and key == "databases" else k): _rename_database(v, name, k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rename_database(v, name, key) for v in value]
    if isinstance(value, str):
        if key == "db" and value == METADATA_DB_KEY:
            return name
        if key in ("description_html", "description"):
            return value.replace(f"/{METADATA_DB_KEY}/", f"/{name}/")
    return value


def datasette_app(db_path: str | Path, allow_sql: bool = False):
    """A Datasette instance for the archive (used by tests and by `serve`)."""
    from datasette.app import Datasette

    return Datasette([str(db_path)], metadata=load_metadata(db_path, allow_sql), settings=SETTINGS,
                     template_dir=str(TEMPLATES))


def upgrade(db_path: Path) -> None:
    """Bring an archive made by an older version up to date before serving it (the search page
    needs the current index and word list); Datasette itself only reads."""
    from archive.store import Archive

    Archive(db_path).close()


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, allow_sql: bool = False) -> None:
    """Run Datasette in the foreground until interrupted."""
    from datasette.cli import serve as datasette_serve

    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(f"archive {db_path} does not exist; run a crawl or `mediawatch demo` first")
    upgrade(db_path)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(load_metadata(db_path, allow_sql), handle)
    args = [str(db_path), "--metadata", handle.name, "--host", host, "--port", str(port),
            "--template-dir", str(TEMPLATES)]
    for key, value in SETTINGS.items():
        args += ["--setting", key, str(value)]
    datasette_serve.main(args=args, prog_name="mediawatch serve", standalone_mode=True)
