"""Shared fixtures: a real mirror server on 127.0.0.1 and real `mediawatch` child processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
