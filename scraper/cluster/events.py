"""What travels from a crawl host to the writer: one stream entry per row the host stored.

An entry has the fields ``kind`` (``page``, ``run`` or ``error``), ``at`` (when the host
stored it, UTC), ``data`` (JSON: the rows, as the host's spool holds them) and, for a page,
``html`` (the page's zlib-compressed bytes, as raw_pages keeps them). Rows carry the host's own
ids (``run_id`` is the host's run); the writer maps them to the archive's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

KINDS = ("page", "run", "error")


@dataclass
class Event:
    seq: int
    kind: str
    at: str
    data: dict
    html: bytes | None = None

    def fields(self) -> dict[str, bytes | str]:
        fields = {"kind": self.kind, "at": self.at, "data": json.dumps(self.data, ensure_ascii=False)}
        if self.html is not None:
            fields["html"] = self.html
        return fields

    @classmethod
    def from_fields(cls, seq: int, fields: dict) -> "Event":
        """Decode a stream entry; ValueError if it is not one of ours."""
        try:
            kind = fields[b"kind"].decode()
            at = fields[b"at"].decode()
            data = json.loads(fields[b"data"])
        except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a mediawatch event: {exc!r}") from None
        if kind not in KINDS or not isinstance(data, dict):
            raise ValueError(f"unknown event kind {kind!r}")
        return cls(seq=seq, kind=kind, at=at, data=data, html=fields.get(b"html"))
