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


def run_mediawatch(args: list[str], mirror: MirrorServer | None = None, timeout: int = 300,
                   check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process (its traffic routed to `mirror` when given)."""
    env = dict(os.environ)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        env.pop(name, None)
    if mirror is not None:
        env.update(mirror.proxy_env())
    result = subprocess.run(
        [sys.executable, "-m", "scraper.cli", *args], env=env, capture_output=True, text=True,
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
