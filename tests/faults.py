"""Named misbehaviours of a web server, for the mirror's ``faults=[(host_re, path_re, fault)]``.

Each fault is a function of the mirror's request handler that answers in place of the file
(or, after misbehaving a few times, serves it normally with ``handler.serve_file``). Like
Scrapy's own test mockserver, they reproduce what real servers do to crawlers: errors,
throttling, hanging, resets, short or enormous bodies, wrong charsets, redirect games.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
from typing import Callable

Fault = Callable[[object], None]


def status(code: int, headers: dict | None = None, body: bytes = b"<html><body>error</body></html>") -> Fault:
    """Always answer `code`."""

    def fault(handler):
        handler.send_body(code, body, "text/html; charset=utf-8", headers)

    fault.__name__ = f"status_{code}"
    return fault


def fail_first(times: int, fault: Fault) -> Fault:
    """Misbehave with `fault` the first `times` requests of each path, then serve the file."""
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def flaky(handler):
        host, path = handler.target()
        with lock:
            seen[path] = seen.get(path, 0) + 1
            count = seen[path]
        if count <= times:
            fault(handler)
        else:
            handler.serve_file(host, path)

    return flaky


def timed(times: list[float], fault: Fault) -> Fault:
    """Run `fault`, noting when each request arrived (to check the client waited)."""

    def noting(handler):
        times.append(time.monotonic())
        fault(handler)

    return noting


def slow(seconds: float) -> Fault:
    """Say nothing for `seconds` (longer than the client's timeout), then serve the file."""

    def fault(handler):
        time.sleep(seconds)
        try:
            handler.serve_file(*handler.target())
        except OSError:
            handler.close_connection = True  # the client gave up; nothing to answer

    return fault


def connection_reset(handler):
    """Drop the connection with a TCP reset before answering."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


def truncated(handler):
    """Promise a longer body (Content-Length) than is sent, then close."""
    body = b"<html><head><title>cut</title></head><body><p>" + b"words " * 2000
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(body) + 50_000))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def body(data: bytes, content_type: str, headers: dict | None = None) -> Fault:
    """Answer 200 with exactly these bytes (e.g. a page in another charset, a PDF)."""

    def fault(handler):
        handler.send_body(200, data, content_type, headers)

    return fault


def gzip_bomb(expanded_size: int) -> Fault:
    """A small gzip body (Content-Encoding: gzip) that expands to `expanded_size` bytes."""
    compressed = gzip.compress(b" " * expanded_size, compresslevel=9)

    def fault(handler):
        handler.send_body(200, compressed, "text/html; charset=utf-8", {"Content-Encoding": "gzip"})

    return fault


def huge(size: int) -> Fault:
    """A page of `size` bytes, streamed until the client hangs up."""
    chunk = b"<p>" + b"filler " * 149_000 + b"</p>\n"

    def fault(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        sent = 0
        try:
            while sent < size:
                part = chunk[: size - sent]
                handler.wfile.write(part)
                sent += len(part)
        except OSError:
            pass
        handler.close_connection = True

    return fault


def redirect(location: str, code: int = 302) -> Fault:
    """Redirect to `location` (absolute, or a path on the same host)."""

    def fault(handler):
        handler.send_body(code, b"", "text/html", {"Location": location})

    return fault


# -- hostile servers: answers written to harm a crawler, not merely broken ones -------------------


def chunked(size: int) -> Fault:
    """A page of `size` bytes sent chunked, without a Content-Length to refuse it by."""
    chunk = b"<p>" + b"filler " * 9_000 + b"</p>\n"

    def fault(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sent = 0
        try:
            while sent < size:
                part = chunk[: size - sent]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                sent += len(part)
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        handler.close_connection = True

    return fault


def header_flood(total: int) -> Fault:
    """`total` bytes of response headers (lines of 8 kB) before a small body."""
    line = b"X-Filler: " + b"f" * 8_000 + b"\r\n"

    def fault(handler):
        handler.send_response_only(200)
        sent = 0
        try:
            handler.wfile.write(b"".join(handler._headers_buffer))
            handler._headers_buffer = []
            while sent < total:
                handler.wfile.write(line * 64)
                sent += len(line) * 64
            handler.wfile.write(b"Content-Type: text/html\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        handler.close_connection = True

    return fault


def xml(document: str | bytes, content_type: str = "application/xml") -> Fault:
    """Answer 200 with an XML document (a sitemap or feed written for the test)."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    return body(data, content_type)


def sitemap_index(children: list[str]) -> str:
    """A sitemap index listing `children` (URLs, used as given: any scheme, any host)."""
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in children)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'


def urlset(urls) -> str:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def rss(links) -> str:
    items = "".join(f"<item><title>{i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def big_sitemap_gz(host: str, urls: int) -> bytes:
    """A gzipped urlset of `urls` article URLs, written in pieces (1,000,000 URLs: about 2.5 MB)."""
    import io

    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as stream:
        stream.write(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
        for start in range(0, urls, 10_000):
            stream.write("".join(f"<url><loc>http://{host}/a/{n}.html</loc></url>"
                                 for n in range(start, min(start + 10_000, urls))).encode())
        stream.write(b"</urlset>")
    return out.getvalue()


def endless_indexes(host: str, width: int = 1) -> Fault:
    """/idx/N.xml is a sitemap index listing /idx/N+1.xml ... (`width` children each): no bottom."""

    def fault(handler):
        _, path = handler.target()
        number = int(path.rsplit("/", 1)[1].split(".")[0])
        children = [f"http://{host}/idx/{number * width + i + 1}.xml" for i in range(width)]
        handler.send_body(200, sitemap_index(children).encode(), "application/xml")

    return fault


def link_maze(host: str, pages: int, article: str) -> Fault:
    """/maze/N.html links to every other maze page and to one `article`: a start page with
    follow_depth that revisits what it has seen never gets there."""

    def fault(handler):
        links = "".join(f'<a href="http://{host}/maze/{n}.html">section {n}</a> ' for n in range(pages))
        page = f'<html><body><nav>{links}</nav><a href="http://{host}{article}">the story</a></body></html>'
        handler.send_body(200, page.encode(), "text/html; charset=utf-8")

    return fault


def link_farm(links: int) -> Fault:
    """An article page with `links` links (550,000: minutes and gigabytes of extraction)."""
    text = "<p>" + "A paragraph of real words that makes this an article worth keeping. " * 20 + "</p>"
    anchors = "".join(f'<a href="/x/{n}">{n}</a>' for n in range(links))
    page = (f"<html><head><title>Link farm</title></head><body><article><h1>Link farm</h1>{text}"
            f"<div>{anchors}</div></article></body></html>").encode()

    def fault(handler):
        handler.send_body(200, page, "text/html; charset=utf-8")

    return fault
