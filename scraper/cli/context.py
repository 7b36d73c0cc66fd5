"""What every command shares: the registry and archive chosen on the command line."""

from __future__ import annotations

from pathlib import Path

import click

from scraper.registry.config import ConfigError, Registry, load_registry

DEFAULT_DB = "mediawatch.db"


class Context:
    def __init__(self, outlets_path: str | None, db: str):
        self.outlets_path = outlets_path
        self.db = Path(db)
        self._registry: Registry | None = None

    def select(self, outlet_ids) -> list:
        """The named outlets (all when none is named).

        Naming outlets needs only their own entries to be valid, so one broken entry does
        not stop the crawls of the others (problems elsewhere are printed as warnings);
        crawling everything needs the whole registry to be valid.
        """
        try:
            registry = load_registry(self.outlets_path, strict=False)
            if registry.problems and (not outlet_ids or any(i not in registry.outlets for i in outlet_ids)):
                raise ConfigError("\n".join(registry.problems))
            for problem in registry.problems:
                click.echo(f"warning: {problem}", err=True)
            self._registry = registry
            return registry.select(outlet_ids)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            try:
                self._registry = load_registry(self.outlets_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._registry


def lenient_registry(obj: Context) -> Registry:
    try:
        registry = load_registry(obj.outlets_path, strict=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for problem in registry.problems:
        click.echo(f"error: {problem}", err=True)
    return registry
