"""Which URLs a crawl of one outlet may request, and which addresses it may connect to.

The rule every request of a crawl is held to (the URL gate, scraper/crawl/downloadermiddlewares.py,
applies it to each one, whatever produced it), written once:

- the scheme is ``http`` or ``https``: never ``file``, ``ftp``, ``data`` or ``s3``, which Scrapy
  would otherwise read from the local disk or elsewhere;
- the host is one of the outlet's ``allowed_hosts``, on the scheme's default port; an entry
  ``host:port`` allows that port alone. Another port, or another name for the same machine
  (``localhost`` for 127.0.0.1), is another host;
- the address connected to is not loopback, private, link-local or otherwise not on the public
  internet, unless the registry says ``allow_private_addresses: true``. Which address that is
  depends on the route: the host's own address for a direct connection, the proxy's when the
  request goes through an HTTP proxy (the proxy then resolves the host; the crawler cannot see
  the address it reaches).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    return parts


def host_of(parts: SplitResult) -> str:
    """The host name as compared with allowed_hosts: lowercase, without a trailing dot."""
    return (parts.hostname or "").rstrip(".")


def allowed_host(url: str | SplitResult, allowed_hosts) -> bool:
    """Is the URL's host (and port) among `allowed_hosts` (names, or 'name:port')?"""
    parts = _split(url) if isinstance(url, str) else url
    if parts is None:
        return False
    host = host_of(parts)
    if not host:
        return False
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        return False
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return host in allowed_hosts
    return f"{host}:{port}" in allowed_hosts


def address_kind(address: str) -> str | None:
    """What makes an IP address unfit for a crawler (e.g. 'loopback'), or None if it is public."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind, test in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("private", ip.is_private), ("multicast", ip.is_multicast),
                       ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved)):
        if test:
            return kind
    return None if ip.is_global else "non-public"


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class FetchPolicy:
    """The fetch rule for one outlet (see the module docstring)."""

    allowed_hosts: frozenset[str]
    allow_private_addresses: bool = False

    @classmethod
    def for_outlet(cls, outlet) -> "FetchPolicy":
        return cls(frozenset(h.lower().rstrip(".") for h in outlet.allowed_hosts), outlet.allow_private_addresses)

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be requested (scheme, host, an address written in it), or None."""
        parts = _split(url)
        if parts is None:
            return f"{url!r} is not a valid URL"
        if parts.scheme not in SCHEMES:
            return f"scheme '{parts.scheme or '(none)'}' is not http or https"
        host = host_of(parts)
        if not host:
            return "the URL names no host"
        if not allowed_host(parts, self.allowed_hosts):
            shown = host if parts.port is None else f"{host}:{parts.port}"
            return f"host {shown} is not among the outlet's allowed_hosts ({', '.join(sorted(self.allowed_hosts))})"
        if is_ip_address(host):
            return self.address_refusal(host, f"host {host}")
        return None

    def address_refusal(self, address: str, what: str) -> str | None:
        """Why connecting to `address` (`what` says whose it is) is refused, or None."""
        if self.allow_private_addresses:
            return None
        kind = address_kind(address)
        if kind is None:
            return None
        return (f"{what} is at {kind} address {address}; the registry allows such addresses only "
                "with allow_private_addresses: true")
