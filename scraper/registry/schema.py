"""The registry's JSON Schema and field reference, generated from the models.

`python -m scraper.registry.schema` writes scraper/registry/outlets.schema.json (referenced by
the first line of outlets.yml and families.yml, so editors with a YAML language server complete
and check a registry) and docs/registry.md; tests/test_config.py fails when either is stale.

What the schema cannot say: an outlet of a family may carry the family's placeholder values
(`host`, `site_id` for pangea), so outlet entries admit extra scalar keys; a misspelled
scalar key is therefore caught by `mediawatch outlets` (which suggests the field meant), not
by the editor. Cross-field rules (a deep_crawl needs a backfill source) are the loader's too.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

from pydantic import BaseModel

from scraper.registry.models import (
    DeepCrawl,
    Limits,
    Outlet,
    Politeness,
    RegistryHeader,
    Source,
)

SCHEMA_FILE = Path(__file__).with_name("outlets.schema.json")
SCHEMA_ID = "https://github.com/mediawatch/mediawatch/blob/main/scraper/registry/outlets.schema.json"
PLACEHOLDER_VALUE = {"type": ["string", "integer", "number", "boolean"],
                     "description": "a value for a placeholder of the outlet's family, e.g. host or site_id"}


def registry_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a registry file."""
    outlet = Outlet.model_json_schema(ref_template="#/$defs/{model}", mode="validation")
    defs = outlet.pop("$defs", {})
    header = RegistryHeader.model_json_schema(mode="validation")["properties"]
    entry = {**outlet, "title": "Outlet entry", "additionalProperties": PLACEHOLDER_VALUE,
             "required": ["id"]}
    family = {**outlet, "title": "Family", "description": "Outlet fields shared by the outlets of one CMS; "
              "strings may use {placeholders} filled from each outlet entry.",
              "properties": {k: v for k, v in outlet["properties"].items() if k != "id"},
              "additionalProperties": False}
    family.pop("required", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mediawatch outlet registry",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "user_agent": header["user_agent"],
            "allow_private_addresses": header["allow_private_addresses"],
            "families": {"type": "object", "description": header["families"]["description"],
                         "additionalProperties": {"$ref": "#/$defs/Family"}},
            "outlets": {"type": "array", "description": header["outlets"]["description"],
                        "items": {"$ref": "#/$defs/OutletEntry"}},
        },
        "$defs": {**defs, "OutletEntry": entry, "Family": family},
    }


def render_schema() -> str:
    return json.dumps(registry_schema(), indent=2, ensure_ascii=False) + "\n"


# -- docs/registry.md -------------------------------------------------------------------------


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(names)
    if origin in (tuple, list):
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is typing.Literal:
        return "text"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return {str: "text", int: "integer", float: "number", bool: "true/false", re.Pattern: "regex"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _default(info) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        return "see below"
    default = info.default
    if default is None or default == ():
        return "—"
    return f"`{json.dumps(default, ensure_ascii=False)}`"


def _table(model: type[BaseModel], title: str, intro: str, skip=()) -> list[str]:
    lines = [f"## {title}", "", intro, "", "| field | type | default | expected |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        expected = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} | {expected} |")
    return lines + [""]


def render_docs() -> str:
    parts = [
        "# The outlet registry",
        "",
        "Generated from `scraper/registry/models.py` by `python -m scraper.registry.schema`;",
        "`tests/test_config.py` fails when this page, the JSON Schema or the models disagree.",
        "",
        "A registry is one YAML file: the bundled `scraper/registry/outlets.yml`, or your own given",
        "with `mediawatch --outlets PATH`. The JSON Schema `scraper/registry/outlets.schema.json` lets",
        "an editor with a YAML language server complete and check it: the bundled files name it on",
        "their first line (`# yaml-language-server: $schema=outlets.schema.json`); copy that line, with",
        "the schema's path, into your own. `mediawatch outlets` loads a registry and reports every",
        "problem at once, naming the file, the outlet, the field and what was expected; an unknown",
        "key is refused with the nearest known one (`field 'politness': not a known field; did you",
        "mean 'politeness'?`). YAML aliases (`*name`) and duplicate keys are refused.",
        "",
        "Families (`families:`) hold the fields outlets of one CMS share; any string in a family may",
        "use `{placeholders}` that each outlet entry fills (the bundled `pangea` family uses `{host}`",
        "and `{site_id}`). Families bundled with mediawatch (`scraper/registry/families.yml`) can be",
        "used from any registry; a family of the same name in your file replaces the bundled one. An",
        "entry's own fields override its family's.",
        "",
    ]
    parts += _table(RegistryHeader, "Top level", "The keys of the file itself.")
    parts += _table(Outlet, "Outlet", "One entry of `outlets:` (or, without `id`, a family).")
    parts += _table(Source, "Source", "One entry of an outlet's `sources:`.")
    parts += _table(Politeness, "Politeness", "An outlet's `politeness:`.")
    parts += _table(Limits, "Limits", "An outlet's `limits:`: bounds one run keeps to, whatever the site serves.")
    parts += _table(DeepCrawl, "DeepCrawl", "An outlet's `deep_crawl:`.")
    return "\n".join(parts)


DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "registry.md"

if __name__ == "__main__":
    SCHEMA_FILE.write_text(render_schema(), encoding="utf-8")
    DOCS_FILE.write_text(render_docs(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE} and {DOCS_FILE}")
