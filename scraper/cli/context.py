"""What every command shares: the registry and archive chosen on the command line."""

from __future__ import annotations

from pathlib import Path

import click

from scraper.registry.config import ConfigError, Registry, load_registry

DEFAULT_DB = "mediawatch.db"


class Context:
    def __init__(self, outlets_path: str | None, db: str, cluster_path: str | None = None):
        self.outlets_path = outlets_path
        self.db = Path(db)
        # Several crawl hosts (docs/scale-out.md): schedule, run and schedule list use them.
        self.cluster_path = cluster_path
        self._registry: Registry | None = None

    def select(self, outlet_ids) -> list:
        """The named outlets (all when none is named).

        Naming outlets needs only their own entries to be valid, so one broken entry does
        not stop the crawls of the others (problems elsewhere are printed as warnings);
        crawling everything needs the whole registry to be valid.
        """
        registry = load_registry(self.outlets_path, strict=False)
        if registry.problems and (not outlet_ids or any(i not in registry.outlets for i in outlet_ids)):
            raise ConfigError("\n".join(registry.problems))
        for problem in registry.problems:
            click.echo(f"warning: {problem}", err=True)
        self._registry = registry
        return registry.select(outlet_ids)

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = load_registry(self.outlets_path)
        return self._registry


def lenient_registry(obj: Context) -> Registry:
    """The registry with its valid entries; each broken one is printed as an error."""
    registry = load_registry(obj.outlets_path, strict=False)
    for problem in registry.problems:
        click.echo(f"error: {problem}", err=True)
    return registry


class SubGroup(click.Group):
    """A group under the root that points to the root's commands: `mediawatch schedule pause`
    says that it is `mediawatch pause`."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else None
        root = ctx.find_root()
        if name and self.get_command(ctx, name) is None and root.command.get_command(root, name) is not None:
            raise click.UsageError(f"No such command '{name}' under '{ctx.info_name}'. Did you mean "
                                   f"`{root.info_name} {name}`?", ctx)
        return super().resolve_command(ctx, args)
