"""The offline demo: real pages from a bundled mirror, crawled by the real pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scraper.demo.mirror import MirrorConfig, MirrorServer

DEMO_DATA = Path(__file__).with_name("data")
DEMO_OUTLETS = DEMO_DATA / "outlets.yml"


def start_demo_mirror() -> MirrorServer:
    """Serve the bundled pages at their original URLs on a free port of 127.0.0.1."""
    return MirrorServer(MirrorConfig(root=DEMO_DATA / "site")).start()


def crawl_through_mirror(mirror: MirrorServer, args: list[str]) -> int:
    """Run `mediawatch <args>` in a child process whose traffic all goes to the mirror.

    A child process, because Twisted's reactor runs once per process; the proxy variables
    are the ordinary ones any HTTP client honours, so the crawler is unchanged.
    """
    env = {**os.environ, **mirror.proxy_env()}
    return subprocess.call([sys.executable, "-m", "scraper.cli", *args], env=env)
