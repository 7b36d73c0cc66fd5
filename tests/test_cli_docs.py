"""The command reference and the CLI agree; every command explains itself in one line."""

from __future__ import annotations

from pathlib import Path

import click

from scraper.cli import cli
from scraper.cli.docs import render_command_docs
from tests.conftest import run_mediawatch

DOCS = Path(__file__).resolve().parents[1] / "docs" / "commands.md"


def test_docs_commands_md_matches_the_cli():
    assert DOCS.read_text(encoding="utf-8") == render_command_docs(), (
        "docs/commands.md is out of date: run `python -m scraper.cli.docs`"
    )


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
