"""Serve an archive with Datasette and the project's metadata."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from archive.readonly import connect_read_only, tidy

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
    top = Path(__file__).resolve().parents[2]  # the checkout, or site-packages when installed
    for candidate in (top / "datasette-metadata.yml", top / "scraper" / "datasette-metadata.yml"):
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


def datasette_app(db_path: str | Path, allow_sql: bool = False, immutable: bool = False):
    """A Datasette instance for the archive (used by tests and by `serve`); `immutable` reads it
    as an unchanging file (archive/readonly.py says when that is needed)."""
    from datasette.app import Datasette

    files, immutables = ([], [str(db_path)]) if immutable else ([str(db_path)], [])
    return Datasette(files, immutables=immutables, metadata=load_metadata(db_path, allow_sql), settings=SETTINGS,
                     template_dir=str(TEMPLATES))


def upgrade(db_path: Path) -> None:
    """Bring an archive made by an older version up to date before serving it (the search page
    needs the current index and word list); Datasette itself only reads. Opening an archive
    that is current changes nothing in it."""
    from archive.store import Archive

    Archive(db_path).close()


class ServeError(RuntimeError):
    """The archive cannot be served; the message says why, and what to do about it."""


def check_archive(db_path: str | Path) -> bool:
    """Refuse what cannot be served (no file, not SQLite, not an archive, unreadable) before
    anything starts; True if the archive has to be read as immutable (archive/readonly.py)."""
    path = Path(db_path)
    if not path.exists():
        raise ServeError(f"no archive at {path}; run a crawl or `mediawatch demo` first")
    if not path.is_file():
        raise ServeError(f"{path} is not a file; give the archive's SQLite file")
    try:
        reader = connect_read_only(path, timeout=5)
        try:
            tables = {row[0] for row in reader.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            reader.conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise ServeError(f"{path} is not an SQLite database, so not a mediawatch archive") from None
        raise ServeError(f"cannot read archive {path}: {exc}") from None
    if "articles" not in tables:
        raise ServeError(f"{path} is an SQLite database but not a mediawatch archive (it has no articles table)")
    return reader.immutable


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: any free one), or ServeError saying what to change."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host}: {exc.strerror}; give --host an address of this machine") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need not wait
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is in use (another `mediawatch serve`?); "
                             "choose another with --port") from None
        raise ServeError(f"cannot listen on {host} port {port}: {exc.strerror}") from None
    return sock


@dataclass(frozen=True)
class Serving:
    """What `serve` tells its caller once it accepts connections."""

    url: str
    # Read as an unchanging snapshot: the folder cannot hold SQLite's -shm file.
    immutable: bool


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, allow_sql: bool = False,
          on_ready: Callable[[Serving], None] = lambda serving: None) -> None:
    """Run Datasette in the foreground until interrupted; `on_ready` is called once it serves.

    Everything that can be refused is refused first, with a ServeError: the archive (see
    check_archive), then the port. Nothing is written: the metadata goes to Datasette as an
    object, and the -wal/-shm files SQLite's readers made are removed at the end if no
    other process has the archive open.
    """
    import uvicorn

    db_path = Path(db_path)
    immutable = check_archive(db_path)
    if not immutable:
        upgrade(db_path)
    datasette = datasette_app(db_path, allow_sql, immutable=immutable)
    asyncio.run(datasette.invoke_startup())
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://{f'[{bound_host}]' if ':' in bound_host else bound_host}:{bound_port}/"

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started:
                on_ready(Serving(url, immutable))

    # uvicorn stops on SIGTERM as on Ctrl+C, then raises the signal again for the handler it
    # found; by default SIGTERM would end the process there, before the cleanup below.
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        Server(uvicorn.Config(datasette.app(), log_level="info", lifespan="on")).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
        for database in datasette.databases.values():
            database.close()
        tidy(db_path)


def _exit(signum, frame):
    raise SystemExit(0)
