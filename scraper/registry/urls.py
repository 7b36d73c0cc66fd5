"""URL identity: when are two URLs the same article?

The archive deduplicates on a *URL key*, not the raw URL. The key drops what does not change
which article a URL shows (scheme, fragment, tracking parameters, default ports, a trailing
slash) and, for outlets that declare an ``article_id`` pattern, reduces the URL to host + id,
so a Pangea article reached under an old slug is recognised. Hosts are never merged:
``rus.azattyq.org`` and ``www.azattyq.org`` publish different articles under different ids.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|yclid|mc_cid|mc_eid|ref|rss|at_\w+|ocid)$", re.I)


def url_key(url: str, article_id: re.Pattern | None = None) -> str:
    """The dedupe identity of `url` (see module docstring)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    if article_id is not None:
        match = article_id.search(parts.path)
        if match:
            return f"{host}/#{match.group(1)}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)))
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{query}" if query else "")
