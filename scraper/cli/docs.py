"""Render docs/commands.md from the command line itself: each section is what `--help` prints.

Every command's help is produced the way a user gets it: by running `mediawatch ... --help`
as a command, in a terminal of fixed width. Click wraps help to the terminal's width up to 80
columns, so the file is what every terminal at least that wide shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import click

# At least click's cap of 80: the output is then the same in every wider terminal.
TERMINAL_COLUMNS = 80


def command_paths(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()):
    """Every command and subcommand under `group`, as the words that name it, sorted."""
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, click.Context(command, info_name=name, parent=ctx), (*prefix, name))


def help_output(words: tuple[str, ...], command: list[str] | None = None) -> str:
    """What `mediawatch WORDS... --help` prints (run as `command`, `python -m scraper.cli` by
    default), in a terminal TERMINAL_COLUMNS wide."""
    command = command or [sys.executable, "-m", "scraper.cli"]
    env = {**os.environ, "COLUMNS": str(TERMINAL_COLUMNS)}
    result = subprocess.run([*command, *words, "--help"], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"mediawatch {' '.join(words)} --help failed: {result.stderr}")
    return result.stdout.rstrip("\n")


def render_command_docs() -> str:
    from scraper.cli import cli

    paths = [(), *command_paths(cli, click.Context(cli, info_name="mediawatch"))]
    with ThreadPoolExecutor(4) as pool:  # each is a process that mostly waits for imports
        helps = list(pool.map(help_output, paths))
    parts = [
        "# Command reference",
        "",
        "Generated from the command line itself by `python -m scraper.cli.docs`: each section is "
        "what `--help` prints. `tests/test_cli_docs.py` runs the installed `mediawatch` command "
        "and fails when one of them prints anything else.",
    ]
    for words, text in zip(paths, helps):
        parts += ["", f"## {' '.join(('mediawatch', *words))}", "", "```", text, "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
    target.write_text(render_command_docs(), encoding="utf-8")
    print(f"wrote {target}")
