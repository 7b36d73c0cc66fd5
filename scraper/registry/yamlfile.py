"""Reading a registry file: plain YAML data, nothing a hostile or careless file could abuse.

PyYAML's safe loader still expands aliases, so a few lines of nested `*a` references (a
"billion laughs" file) grow into gigabytes; and it keeps the last of two equal keys, so an
outlet listed with `schedule:` twice silently loses one. A registry needs neither: aliases and
duplicate keys are refused, with the line they are on, and so is a file too large to be one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

# The bundled registry is about 5 kB; a few hundred outlets stay far below this.
MAX_BYTES = 4 * 1024 * 1024


class RegistryFileError(ValueError):
    """The file cannot be read as registry YAML; the message says why, with the line."""


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise RegistryFileError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed "
                "in a registry; write the value out, or use a family for settings outlets share"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise RegistryFileError(
                    f"line {key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping "
                    f"(first on line {seen[key]}); keep one"
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path):
    """The data in the YAML file at `path`. Raises FileNotFoundError, or RegistryFileError."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise RegistryFileError(f"larger than {MAX_BYTES // 2**20} MB; a registry is a few kB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryFileError(f"not UTF-8 text ({exc})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RegistryFileError(f"not valid YAML: {exc}") from None
