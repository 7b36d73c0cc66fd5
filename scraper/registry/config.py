"""Loading the outlet registry: which sites to crawl, how to find their articles, how politely.

A registry is a YAML file (schema: scraper/registry/outlets.schema.json; every field:
docs/registry.md) with these top-level keys:

``outlets``
    One entry per outlet (scraper/registry/models.py declares its fields).
``families``
    Shared settings for outlets built on one CMS (every RFE/RL site runs Pangea). Any string
    in a family may use ``{placeholders}`` filled from the outlet entry (``{host}``,
    ``{site_id}`` ...), so an outlet of a known family is a few lines; an entry's own keys
    override its family's. The families bundled with mediawatch (families.yml beside this
    module) can be used from any registry; a family of the same name in the file replaces one.
``user_agent``, ``allow_private_addresses``
    Crawl-wide settings.

Loading validates everything up front and reports every problem at once, each naming the
file, the outlet, the field and what was expected, with a suggestion for a misspelled key: a
typo must never surface as a crawl that silently finds nothing, nor as a default silently used.
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ValidationError

from scraper.registry.models import (
    DEFAULT_SCHEDULE,
    DEFAULT_USER_AGENT,
    SOURCE_KINDS,
    SOURCE_MODES,
    DeepCrawl,
    Limits,
    Outlet,
    Politeness,
    RegistryHeader,
    Source,
    language_or_sole,
)
from scraper.registry.yamlfile import RegistryFileError, read_yaml

__all__ = [
    "BUNDLED_FAMILIES", "DEFAULT_REGISTRY", "DEFAULT_SCHEDULE", "SOURCE_KINDS", "SOURCE_MODES", "ConfigError",
    "DeepCrawl", "Limits", "Outlet", "Politeness", "Registry", "Source", "bundled_families", "language_or_sole",
    "load_registry",
]

DEFAULT_REGISTRY = Path(__file__).with_name("outlets.yml")
BUNDLED_FAMILIES = Path(__file__).with_name("families.yml")

_OUTLET_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class ConfigError(ValueError):
    """The registry is malformed. The message lists every problem found."""


@dataclass
class Registry:
    path: Path
    outlets: dict[str, Outlet] = field(default_factory=dict)
    user_agent: str = DEFAULT_USER_AGENT
    # Only filled by a lenient load: the entries that were left out, and why.
    problems: list[str] = field(default_factory=list)

    def select(self, ids: list[str] | tuple[str, ...] | None) -> list[Outlet]:
        """The outlets named by `ids` (all of them when empty); unknown ids are an error."""
        if not ids:
            return list(self.outlets.values())
        unknown = [i for i in ids if i not in self.outlets]
        if unknown:
            hints = [f"did you mean '{match[0]}'?" for i in unknown
                     if (match := difflib.get_close_matches(i, list(self.outlets), n=1))]
            raise ConfigError(
                f"{self.path}: unknown outlet {', '.join(map(repr, unknown))}; "
                + (f"{' '.join(hints)} " if hints else "")
                + f"known: {', '.join(self.outlets)}"
            )
        return [self.outlets[i] for i in ids]


def load_registry(path: str | Path | None = None, strict: bool = True) -> Registry:
    """Read and validate a registry file (the bundled default when `path` is None).

    Strict (the default), any problem is a ConfigError listing them all. Lenient, broken
    outlet entries are left out and listed in `Registry.problems`, so a long-running
    scheduler keeps crawling the good outlets; a file that cannot be read at all, or whose
    top level is wrong, is still an error.
    """
    path = Path(path) if path else DEFAULT_REGISTRY
    data = _read(path)
    if not isinstance(data, dict) or not isinstance(data.get("outlets"), list):
        raise ConfigError(f"{path}: expected a mapping with an 'outlets' list")
    try:
        header = RegistryHeader.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_messages(exc, RegistryHeader, f"{path}: ", set()))) from None

    problems: list[str] = []
    families = {**bundled_families(), **header.families}
    broken_families = {name for name, family in header.families.items()
                       if _check_family(path, name, family, problems)}
    defaults = {"allow_private_addresses": header.allow_private_addresses}
    registry = Registry(path=path, user_agent=header.user_agent)
    for index, entry in enumerate(header.outlets):
        outlet = _EntryLoader(path, index, entry, families, broken_families, defaults, problems).load()
        if outlet is None:
            continue
        if outlet.id in registry.outlets:
            problems.append(f"{path}: outlet '{outlet.id}': id is used twice")
            continue
        registry.outlets[outlet.id] = outlet
    if problems and strict:
        raise ConfigError("\n".join(problems))
    registry.problems = problems
    return registry


def _read(path: Path):
    try:
        return read_yaml(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: outlet registry not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not an outlet registry file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot be read (permission denied)") from None
    except RegistryFileError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@lru_cache(maxsize=1)
def bundled_families() -> dict[str, dict]:
    """The families shipped with mediawatch (families.yml), usable from any registry."""
    data = _read(BUNDLED_FAMILIES)
    return dict(data["families"])


def _check_family(path: Path, name: str, family: dict, problems: list[str]) -> bool:
    """Report a family's unknown keys (its values are checked in each outlet that uses it).
    Returns True if the family is broken."""
    known = set(Outlet.model_fields) - {"id"}
    unknown = [key for key in family if key not in known]
    for key in unknown:
        problems.append(f"{path}: family '{name}': field '{key}': {_unknown_field(key, known)}")
    return bool(unknown)


def _placeholders(value) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, list):
        return set().union(*map(_placeholders, value)) if value else set()
    if isinstance(value, dict):
        return set().union(*map(_placeholders, value.values())) if value else set()
    return set()


class _EntryLoader:
    """Builds one Outlet from one entry, adding every problem found to `problems`."""

    def __init__(self, path: Path, index: int, entry, families: dict, broken_families: set,
                 defaults: dict, problems: list[str]):
        self.path, self.entry, self.families = path, entry, families
        self.broken_families, self.defaults, self.problems = broken_families, defaults, problems
        outlet_id = entry.get("id") if isinstance(entry, dict) else None
        valid_id = isinstance(outlet_id, str) and _OUTLET_ID.match(outlet_id)
        self.prefix = f"{path}: outlet '{outlet_id if valid_id else f'outlets[{index}]'}': "

    def _problem(self, text: str) -> None:
        self.problems.append(self.prefix + text)

    def load(self) -> Outlet | None:
        if not isinstance(self.entry, dict):
            self._problem(f"field 'entry': expected a mapping of fields, got {self.entry!r}")
            return None
        merged, parameters = self._merge_family()
        if merged is None:
            return None
        merged = {**self.defaults, **merged}
        try:
            return Outlet.model_validate(merged)
        except ValidationError as exc:
            self.problems.extend(_messages(exc, Outlet, self.prefix, parameters))
            return None

    def _merge_family(self) -> tuple[dict | None, set[str]]:
        """The entry over its family, placeholders filled; and the family's placeholder names
        (keys an entry of this family may carry besides the fields)."""
        name = self.entry.get("family")
        if name is None:
            return dict(self.entry), set()
        family = self.families.get(name) if isinstance(name, str) else None
        if family is None:
            suggestion = difflib.get_close_matches(str(name), list(self.families), n=1)
            self._problem(f"field 'family': expected one of {sorted(self.families)} (this file's families "
                          f"and the bundled ones), got {name!r}"
                          + (f"; did you mean '{suggestion[0]}'?" if suggestion else ""))
            return None, set()
        if name in self.broken_families:
            self._problem(f"field 'family': family '{name}' has errors (listed above)")
            return None, set()
        parameters = _placeholders(family) - set(Outlet.model_fields)
        merged = self._fill({**family, **self.entry})
        sources = merged.get("sources") if isinstance(merged.get("sources"), list) else []
        if "deep_crawl" not in self.entry and not any(isinstance(s, dict) and s.get("mode") == "backfill"
                                                      for s in sources):
            # A family's deep crawl applies to the outlets that keep the family's backfill
            # sources; one an outlet asks for itself needs them (the model checks that).
            merged.pop("deep_crawl", None)
        for parameter in parameters:
            merged.pop(parameter, None)
        return merged, parameters

    def _fill(self, value):
        if isinstance(value, str):
            def substitute(match: re.Match) -> str:
                key = match.group(1)
                if key not in self.entry:
                    self._problem(f"field '{key}': expected a value for placeholder '{{{key}}}' used by the "
                                  "family, got None")
                    return match.group(0)
                return str(self.entry[key])

            # Regexes use {n} quantifiers; only {name} placeholders are substituted.
            return _PLACEHOLDER.sub(substitute, value)
        if isinstance(value, list):
            return [self._fill(v) for v in value]
        if isinstance(value, dict):
            return {k: self._fill(v) for k, v in value.items()}
        return value


# -- wording pydantic's errors for the person editing the file ------------------------------


def _messages(error: ValidationError, model: type[BaseModel], prefix: str, parameters: set[str]) -> list[str]:
    """One line per problem: field, what was expected (the field's description), what was got;
    an unknown key gets the nearest known one as a suggestion, and when that one is a required
    field reported missing, the typo is the one problem reported."""
    details = error.errors(include_url=False)
    missing = {tuple(d["loc"]) for d in details if d["type"] == "missing"}
    # A list whose bad items were refused is then also "too short": the item's error says it.
    inner = {tuple(d["loc"])[:n] for d in details for n in range(len(d["loc"]))}
    unknown: dict[tuple, str] = {}
    for detail in details:
        if detail["type"] == "extra_forbidden":
            loc = tuple(detail["loc"])
            owner = _model_at(model, loc[:-1])
            known = set(owner.model_fields) | (parameters if owner is model else set())
            unknown[loc] = _unknown_field(str(loc[-1]), known)
    answered = set()
    for loc, text in unknown.items():
        meant = loc[:-1] + (text.split("'")[1],) if "did you mean" in text else None
        if meant in missing:
            answered.add(meant)
            unknown[loc] = f"{text} ('{meant[-1]}' is required)"
    lines = []
    for detail in details:
        loc = tuple(detail["loc"])
        if loc in unknown:
            lines.append(f"{prefix}field '{_label(loc)}': {unknown[loc]}")
            continue
        if loc in inner or loc in answered:
            continue
        context = detail.get("ctx") or {}
        if detail["type"] == "registry_field":
            loc, expected, got = loc + (context["field"],), context["expected"], context["got"]
        elif detail["type"] == "value_error":
            expected, got = str(context.get("error")), detail["input"]
        else:
            expected = _description(model, loc) or detail["msg"]
            got = None if detail["type"] == "missing" else detail["input"]
        lines.append(f"{prefix}field '{_label(loc)}': expected {expected}, got {got!r}")
    return lines


def _unknown_field(key: str, known: set[str]) -> str:
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if match:
        return f"not a known field; did you mean '{match[0]}'?"
    return f"not a known field (known: {', '.join(sorted(known))})"


def _label(loc: tuple) -> str:
    label = ""
    for part in loc:
        label += f"[{part}]" if isinstance(part, int) else (f".{part}" if label else str(part))
    return label


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel]:
    """The model whose fields the key at `loc` + (key,) belongs to."""
    for part in loc:
        if isinstance(part, str) and part in model.model_fields:
            model = _nested_model(model.model_fields[part].annotation) or model
    return model


def _description(model: type[BaseModel], loc: tuple) -> str | None:
    """The description of the innermost declared field along `loc`."""
    description = None
    for part in loc:
        if isinstance(part, int) or model is None or part not in model.model_fields:
            continue
        info = model.model_fields[part]
        description = info.description or description
        model = _nested_model(info.annotation)
    return description


def _nested_model(annotation) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _nested_model(argument)
        if found is not None:
            return found
    return None
