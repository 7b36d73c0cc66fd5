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
