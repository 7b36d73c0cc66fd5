"""The fetch policy the URL gate applies: properties over hostile URLs (Hypothesis).

What matters is that the gate and the downloader agree: a URL the policy lets through must
lead Scrapy to connect to an allowed host on its scheme's default port, however the URL is
written (user info, backslashes, case, trailing dots, percent-encoding, odd ports).
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.utils.httpobj import urlparse_cached

from scraper.registry.fetch_policy import FetchPolicy, address_kind, allowed_host

ALLOWED = ("www.azattyq.org", "rus.azattyq.org", "cdn.example:8443")
POLICY = FetchPolicy(frozenset(ALLOWED))
PERMISSIVE = FetchPolicy(frozenset(ALLOWED), allow_private_addresses=True)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hosts = st.sampled_from([*ALLOWED, "azattyq.org", "evil.example", "www.azattyq.org.evil.example", "localhost",
                         "127.0.0.1", "10.0.0.7", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0",
                         "WWW.AZATTYQ.ORG", "www.azattyq.org.", "xn--80ak6aa92e.com", "2130706433"])
schemes = st.sampled_from(["http", "https", "HTTP", "file", "ftp", "data", "s3", "gopher", "javascript", ""])
ports = st.one_of(st.just(""), st.sampled_from([":80", ":443", ":8080", ":8443", ":0", ":65536", ":x", ":"]))
userinfo = st.sampled_from(["", "user@", "user:pass@", "www.azattyq.org@", "a@b@", "www.azattyq.org%40"])
paths = st.sampled_from(["/", "/a/1.html", "\\@evil.example/", "/..%2f..%2fetc/passwd", "?q=1#frag", "",
                         "/%00", "@evil.example/"])


@st.composite
def urls(draw) -> str:
    return f"{draw(schemes)}://{draw(userinfo)}{draw(hosts)}{draw(ports)}{draw(paths)}"


@SETTINGS
@given(urls())
@example("http://www.azattyq.org\\@evil.example/")
@example("http://www.azattyq.org@evil.example/")
@example("http://evil.example#@www.azattyq.org/")
def test_a_url_let_through_connects_only_to_an_allowed_host_on_its_default_port(url):
    reason = POLICY.refusal(url)
    try:
        request = Request(url)
    except (ValueError, TypeError):
        return  # Scrapy would not make a request of it at all
    if reason is not None or POLICY.refusal(request.url) is not None:
        return
    # What the download handler connects to, parsed as Scrapy parses it.
    parts = urlparse_cached(request)
    assert parts.scheme in ("http", "https")
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    default = port == {"http": 80, "https": 443}[parts.scheme]
    assert (default and host in ALLOWED) or f"{host}:{port}" in ALLOWED, (url, request.url)


@SETTINGS
@given(urls())
def test_only_http_and_https_are_ever_allowed(url):
    if not url.lower().startswith(("http://", "https://")):
        assert POLICY.refusal(url) is not None and PERMISSIVE.refusal(url) is not None


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_is_judged_without_raising(text):
    assert POLICY.refusal(text) is None or isinstance(POLICY.refusal(text), str)


NON_PUBLIC = [ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "::1/128", "fc00::/7", "fe80::/10")]


@SETTINGS
@given(st.sampled_from(NON_PUBLIC).flatmap(
    lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net[i])))
def test_every_loopback_private_or_link_local_address_is_refused_unless_allowed(address):
    assert address_kind(str(address)) is not None
    assert POLICY.address_refusal(str(address), "the proxy") is not None
    assert PERMISSIVE.address_refusal(str(address), "the proxy") is None
    if isinstance(address, ipaddress.IPv4Address):
        # The same address written as IPv6 (an IPv4-mapped address) is the same machine.
        assert address_kind(f"::ffff:{address}") is not None


@SETTINGS
@given(st.integers(0x01000000, 0xDFFFFFFF).map(ipaddress.IPv4Address))
def test_public_addresses_are_allowed(address):
    if address.is_global:
        assert POLICY.address_refusal(str(address), "host x") is None


def test_a_literal_private_address_in_an_allowed_host_list_is_still_an_address_check():
    policy = FetchPolicy(frozenset({"127.0.0.1:8123"}))
    assert "loopback" in policy.refusal("http://127.0.0.1:8123/feed.xml")
    assert FetchPolicy(frozenset({"127.0.0.1:8123"}), True).refusal("http://127.0.0.1:8123/feed.xml") is None
    assert "not among" in policy.refusal("http://127.0.0.1:8124/feed.xml")


def test_allowed_hosts_compare_names_and_ports_exactly():
    assert allowed_host("https://www.azattyq.org/a", ALLOWED)
    assert allowed_host("https://WWW.Azattyq.org.:443/a", ALLOWED)
    assert not allowed_host("https://sub.www.azattyq.org/a", ALLOWED)
    assert not allowed_host("http://www.azattyq.org:8080/a", ALLOWED)
    assert allowed_host("https://cdn.example:8443/x.xml", ALLOWED)
    assert not allowed_host("https://cdn.example/x.xml", ALLOWED)
