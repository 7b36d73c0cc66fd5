"""Which crawl host an outlet belongs to: weighted rendezvous hashing, unless pinned.

Every (host, outlet) pair gets a score from a hash of both names; the outlet goes to the host
with the highest score. Adding or removing a host moves only the outlets that host wins or
loses, never an outlet between two other hosts, and every controller computes the same
placement from the same list with no state to share. A host of weight 2 wins about twice as
many outlets as one of weight 1.
"""

from __future__ import annotations

import hashlib
import math
from typing import Mapping


def score(host: str, outlet_id: str, weight: float = 1.0) -> float:
    digest = hashlib.sha256(f"{host}\x00{outlet_id}".encode("utf-8")).digest()
    # A uniform number in (0, 1) from 64 bits of the hash; -weight / ln(u) is the weighted
    # rendezvous score (Schindelhauer and Schomaker), largest wins.
    unit = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64
    return -weight / math.log(unit)


def rendezvous(outlet_id: str, weights: Mapping[str, float]) -> str:
    """The host (a key of `weights`) that wins `outlet_id`; ties go to the smaller name."""
    if not weights:
        raise ValueError("no crawl host to place outlets on")
    return max(sorted(weights), key=lambda host: score(host, outlet_id, weights[host]))


def placement(outlet_ids, weights: Mapping[str, float], pins: Mapping[str, str] | None = None) -> dict[str, str]:
    """outlet id -> host for every outlet: its pin if it has one, else its rendezvous winner."""
    pins = pins or {}
    return {outlet_id: pins.get(outlet_id) or rendezvous(outlet_id, weights) for outlet_id in outlet_ids}
