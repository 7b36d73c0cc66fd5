"""Shared by the benchmark scripts: where the corpus is, what machine this is, the report."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks.md"
sys.path.insert(0, str(REPO))


def corpus_dir() -> Path:
    path = Path(os.environ.get("MEDIAWATCH_CORPUS", REPO.parent / "shared" / "corpus"))
    if not path.is_dir():
        sys.exit(f"corpus not found at {path} (set MEDIAWATCH_CORPUS)")
    return path


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    return (f"{date.today()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, load average {load:.1f} at start")


def write_section(title: str, body: str, report: Path = REPORT) -> None:
    """Replace (or add) the `## title` section of `report` (docs/benchmarks.md by default)."""
    text = report.read_text(encoding="utf-8") if report.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    report.write_text(text.rstrip() + "\n", encoding="utf-8")
