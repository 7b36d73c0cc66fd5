"""The command reference is what the installed command prints; every command explains itself
in one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from scraper.cli import cli
from scraper.cli.docs import command_paths
from tests.conftest import run_mediawatch

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "commands.md"
# The console script `pip install` made, beside the interpreter running the tests.
MEDIAWATCH = Path(sys.executable).with_name("mediawatch")


def documented_help() -> dict[tuple[str, ...], str]:
    """docs/commands.md's sections: the words after `mediawatch` -> the help shown."""
    text = DOCS.read_text(encoding="utf-8")
    sections = re.findall(r"^## mediawatch([^\n]*)\n\n```\n(.*?)\n```$", text, flags=re.M | re.S)
    return {tuple(title.split()): body for title, body in sections}


def printed_help(words: tuple[str, ...]) -> str:
    """`mediawatch WORDS... --help` as the installed command prints it in a wide terminal."""
    result = subprocess.run([str(MEDIAWATCH), *words, "--help"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


def test_docs_commands_md_is_what_the_installed_command_prints():
    assert MEDIAWATCH.is_file(), f"no installed mediawatch command at {MEDIAWATCH} (pip install -e .)"
    documented = documented_help()
    commands = [(), *command_paths(cli, click.Context(cli, info_name="mediawatch"))]
    assert list(documented) == commands, (
        "docs/commands.md does not have one section per command: run `python -m scraper.cli.docs`"
    )
    with ThreadPoolExecutor(4) as pool:
        printed = dict(zip(commands, pool.map(printed_help, commands)))
    for words in commands:
        assert documented[words] == printed[words], (
            f"`{' '.join(('mediawatch', *words, '--help'))}` prints something else than docs/commands.md shows: "
            "run `python -m scraper.cli.docs`"
        )
    assert "  -h, --help " in documented[()]


def test_help_lists_every_command_with_a_one_line_description():
    result = run_mediawatch(["--help"])
    ctx = click.Context(cli)
    commands_section = result.stdout.split("Commands:", 1)[1]
    assert "..." not in commands_section, "a command summary is too long to show whole in --help"
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        summary = command.get_short_help_str(limit=200)
        assert summary, f"{name} needs a one-line docstring"
        assert f"  {name} " in commands_section and summary in commands_section


def test_ci_runs_the_readme_test_command_verbatim_and_the_set_up_has_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    set_up = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```\n(.*?)\n```$", set_up, flags=re.M | re.S)
    assert len(commands) == 2, commands
    test_command = commands[1]
    assert test_command.endswith("python -m pytest"), test_command
    assert test_command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
