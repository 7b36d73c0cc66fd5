"""Render docs/commands.md from the CLI itself, so the reference cannot drift from --help."""

from __future__ import annotations

import click


def _commands(group: click.Group, ctx: click.Context, prefix: str):
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        path = f"{prefix} {name}"
        yield path, command, ctx
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, info_name=name, parent=ctx), path)


def render_command_docs() -> str:
    from scraper.cli import cli

    root = click.Context(cli, info_name="mediawatch")
    parts = [
        "# Command reference",
        "",
        "Generated from the command line itself by `python -m scraper.cli.docs`; "
        "`tests/test_cli_docs.py` fails when this file and `--help` disagree.",
        "",
        "## mediawatch",
        "",
        "```",
        cli.get_help(root),
        "```",
    ]
    for path, command, parent in _commands(cli, root, "mediawatch"):
        ctx = click.Context(command, info_name=path.split()[-1], parent=parent)
        parts += ["", f"## {path}", "", "```", command.get_help(ctx), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
    target.write_text(render_command_docs(), encoding="utf-8")
    print(f"wrote {target}")
