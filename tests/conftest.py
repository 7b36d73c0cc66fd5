"""Shared fixtures: a real mirror server on 127.0.0.1 and real `mediawatch` child processes."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scraper.demo.mirror import MirrorConfig, MirrorServer, Route

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DEMO_DATA = REPO / "scraper" / "demo" / "data"


def needs_corpus(*parts: str) -> Path:
    """The shared corpus folder, or skip the test with the reason."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared corpus not available at {path}")
    return path


@pytest.fixture
def mirror_factory():
    """Start mirror servers for a test; all are stopped afterwards."""
    servers: list[MirrorServer] = []

    def start(root: Path, fallbacks: list[Route] | None = None, **config) -> MirrorServer:
        server = MirrorServer(MirrorConfig(root=Path(root), fallbacks=fallbacks or [], **config)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def demo_mirror(mirror_factory) -> MirrorServer:
    return mirror_factory(DEMO_DATA / "site")


# Runs the CLI after capping the process's address space (inherited by the extraction workers
# it spawns, each capped alike): a run that would grow without bound fails fast instead of
# swapping the machine, and a MemoryError in stderr says so.
_CAPPED = ("import resource, runpy, sys; limit = int(sys.argv.pop(1));"
           " resource.setrlimit(resource.RLIMIT_AS, (limit, limit));"
           " runpy.run_module('scraper.cli', run_name='__main__', alter_sys=True)")


def run_mediawatch(args: list[str], mirror: MirrorServer | None = None, timeout: int = 300,
                   check: bool = True, cwd: Path | None = None,
                   memory_limit: int | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process (its traffic routed to `mirror` when given; its
    address space capped at `memory_limit` bytes when given)."""
    env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        env.pop(name, None)
    if mirror is not None:
        env.update(mirror.proxy_env())
    command = [sys.executable, "-c", _CAPPED, str(memory_limit)] if memory_limit else [sys.executable, "-m", "scraper.cli"]
    result = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True,
        timeout=timeout, cwd=cwd,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"mediawatch {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def pattern_route(host: str, path: str, file: Path) -> Route:
    return Route(host=re.compile(host), path=re.compile(path), file=file)


@contextlib.contextmanager
def served_archive(db: Path):
    """A real `mediawatch serve DB` child process on a free port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "scraper.cli", "serve", str(db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"mediawatch serve did not start: {process.stdout.read().decode()[-2000:]}")
            time.sleep(0.3)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- reconciliation over every crawl the suite runs ------------------------------------------------

_RECONCILIATION = pytest.StashKey[dict]()


@pytest.fixture(scope="session", autouse=True)
def crawl_reconciliation(tmp_path_factory, request):
    """After the last test: read every archive the tests crawled into (under the session's temp
    folder) and add up how their runs ended, so the suite's summary shows that every fetched page
    was stored, unchanged or recorded (docs/reliability.md quotes it)."""
    yield
    request.config.stash[_RECONCILIATION] = reconciliation(tmp_path_factory.getbasetemp())


def reconciliation(root: Path) -> dict:
    import sqlite3

    totals = {"archives": 0, "runs": 0, "reconciled": 0, "unreconciled": [], "not_closed": 0,
              "fetched": 0, "stored": 0, "unchanged": 0, "recorded": 0}
    for db in sorted(root.rglob("*.db")):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                runs = conn.execute("SELECT id, status, message, reconciled, pages_fetched, pages_stored,"
                                    " pages_unchanged, pages_recorded FROM crawl_runs").fetchall()
        except sqlite3.Error:
            continue  # not an archive, or one a test damaged on purpose
        if not runs:
            continue
        totals["archives"] += 1
        for run_id, status, message, reconciled, fetched, stored, unchanged, recorded in runs:
            totals["runs"] += 1
            if reconciled is None:
                totals["not_closed"] += 1  # killed (the kill -9 tests), or written by a test directly
                continue
            for name, value in (("fetched", fetched), ("stored", stored), ("unchanged", unchanged),
                                ("recorded", recorded)):
                totals[name] += value
            if reconciled:
                totals["reconciled"] += 1
            else:
                totals["unreconciled"].append(f"{db.relative_to(root)} run {run_id} ({status}): {message}")
    return totals


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    totals = config.stash.get(_RECONCILIATION, None)
    if not totals or not totals["runs"]:
        return
    terminalreporter.write_line(
        f"crawl reconciliation: {totals['runs']} runs in {totals['archives']} archives; "
        f"{totals['reconciled']} closed runs reconciled, {len(totals['unreconciled'])} not, "
        f"{totals['not_closed']} never closed (killed); pages fetched {totals['fetched']:,} = stored "
        f"{totals['stored']:,} + unchanged {totals['unchanged']:,} + recorded {totals['recorded']:,}")
    for line in totals["unreconciled"]:
        terminalreporter.write_line(f"  NOT RECONCILED: {line}")
