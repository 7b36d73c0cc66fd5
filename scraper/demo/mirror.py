"""A local mirror of saved web pages that answers as if it were the live sites.

Files live under ``<root>/<host>/<path>``; a path ending in ``/`` is served from
``index.html``, and ``<file>.gz`` stands in for ``<file>`` (decompressed on the way out) so
bundled pages stay small. The server answers both as a plain web server (routing on the
``Host`` header) and as an HTTP proxy, including HTTPS through ``CONNECT`` with a
self-signed certificate. Pointing a crawler at it with the ordinary ``http_proxy`` /
``https_proxy`` environment variables lets it crawl the sites' real ``https://`` URLs
without touching the network; Scrapy does not verify certificates, so the tunnel works.

The demo uses it to serve its bundled pages; tests and benchmarks add routes (``fallbacks``)
and named misbehaviours (``faults``) on top.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import socket
import ssl
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

# A fault takes the request handler and answers (or misbehaves) in its place.
Fault = Callable[["MirrorHandler"], None]


@dataclass
class Route:
    """Serve `file` for every URL whose host matches `host` and path matches `path`."""

    host: re.Pattern
    path: re.Pattern
    file: Path


@dataclass
class MirrorConfig:
    root: Path
    fallbacks: list[Route] = field(default_factory=list)
    # (host regex, path regex) -> fault; checked before files.
    faults: list[tuple[re.Pattern, re.Pattern, Fault]] = field(default_factory=list)
    # Hosts the mirror does not know at all are answered 404 unless listed here as dead,
    # in which case the connection is dropped like an unreachable server.
    dead_hosts: tuple[str, ...] = ()


class MirrorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "MirrorServer"
    tunnel_host: str | None = None

    def log_message(self, format, *args):  # keep test and demo output quiet
        pass

    # -- proxying --------------------------------------------------------------------------

    def do_CONNECT(self):
        host = self.path.split(":")[0].lower()
        if host in self.server.config.dead_hosts:
            self.send_error(502, "dead host")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tls = self.server.tls_context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        handler_class = type("TunnelHandler", (type(self),), {"tunnel_host": host})
        try:
            handler_class(tls, self.client_address, self.server)
        except (ssl.SSLError, OSError):
            pass
        self.close_connection = True

    # -- answering ---------------------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET(head_only=True)

    def do_GET(self, head_only: bool = False):
        self.head_only = head_only
        host, path = self.target()
        if host in self.server.config.dead_hosts:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        for host_re, path_re, fault in self.server.config.faults:
            if host_re.fullmatch(host) and path_re.search(path):
                self.server.hits[(host, path, "fault")] = self.server.hits.get((host, path, "fault"), 0) + 1
                fault(self)
                return
        self.serve_file(host, path)

    def serve_file(self, host: str, path: str) -> None:
        """Answer from the mirror's files (faults may call this after misbehaving a little)."""
        self.server.record(host, path)
        file = self.server.find(host, path)
        if file is None:
            self.send_body(404, b"<html><body>Not found</body></html>", "text/html; charset=utf-8")
            return
        body = file.read_bytes()
        modified = int(file.stat().st_mtime)
        requested_name = Path(unquote(path.split("?")[0])).name
        if file.suffix == ".gz" and not requested_name.endswith(".gz"):
            body = gzip.decompress(body)
            file = file.with_suffix("")
        # Validators like a real web server's, and 304 for a conditional request that matches.
        validators = {"ETag": f'"{hashlib.sha1(body).hexdigest()[:16]}"',
                      "Last-Modified": formatdate(modified, usegmt=True)}
        if self.not_modified(validators):
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.send_body(200, body, _content_type(file, body), validators)

    def not_modified(self, validators: dict) -> bool:
        """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or validators["ETag"] in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
            return parsedate_to_datetime(validators["Last-Modified"]) <= since
        return False

    def target(self) -> tuple[str, str]:
        """(host, path-with-query) of this request, whether proxied or direct."""
        if self.path.startswith(("http://", "https://")):
            parts = urlsplit(self.path)
            return (parts.hostname or "").lower(), parts.path + (f"?{parts.query}" if parts.query else "")
        host = self.tunnel_host or (self.headers.get("Host") or "").split(":")[0]
        return host.lower(), self.path

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not getattr(self, "head_only", False):
            self.wfile.write(body)


def _content_type(file: Path, body: bytes) -> str:
    name = file.name
    if name.endswith(".xml.gz") or file.suffix == ".gz":
        return "application/x-gzip"
    if file.suffix in (".rss",) or name.endswith(("feed.xml", "rss.xml")):
        return "application/rss+xml; charset=utf-8"
    guessed = mimetypes.guess_type(name)[0]
    if guessed is None:
        head = body[:512].lstrip().lower()
        guessed = "application/xml" if head.startswith(b"<?xml") else "text/html"
    if guessed.startswith("text/") or guessed.endswith("xml"):
        return f"{guessed}; charset=utf-8"
    return guessed


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: MirrorConfig, port: int = 0):
        self.config = config
        self.hits: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self.tls_context = _self_signed_context()
        super().__init__(("127.0.0.1", port), MirrorHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-request (a crawler killed or timing out) is routine here.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def record(self, host: str, path: str) -> None:
        with self._lock:
            self.hits[(host, path)] = self.hits.get((host, path), 0) + 1

    def requested(self, host: str | None = None) -> list[str]:
        """Paths requested so far (for one host, or 'host/path' for all), each once."""
        with self._lock:
            keys = [k for k in self.hits if len(k) == 2]
        if host:
            return [p for h, p in keys if h == host]
        return [f"{h}{p}" for h, p in keys]

    def find(self, host: str, path: str) -> Path | None:
        relative = unquote(path.split("?")[0]).lstrip("/")
        base = (self.config.root / host).resolve()
        candidate = (base / relative).resolve()
        if base != candidate and base not in candidate.parents:  # no ../ escapes out of the mirror
            return None
        options = [candidate, candidate.with_name(candidate.name + ".gz")]
        if relative == "" or relative.endswith("/") or candidate.is_dir():
            # A directory URL: a saved page, or a saved feed (served as XML).
            options = [candidate / name for name in ("index.html", "index.html.gz", "index.xml")]
        for option in options:
            if option.is_file():
                return option
        for route in self.config.fallbacks:
            if route.host.fullmatch(host) and route.path.search(path):
                return route.file
        return None

    def start(self) -> "MirrorServer":
        threading.Thread(target=self.serve_forever, name="mirror", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def proxy_env(self) -> dict[str, str]:
        """Environment variables that route a crawler's traffic through this mirror."""
        return {"http_proxy": self.url, "https_proxy": self.url, "no_proxy": ""}


_TLS_FOLDER: Path | None = None
_TLS_CONTEXTS: dict[str, ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def _self_signed_context() -> ssl.SSLContext:
    """A TLS server context that presents a throwaway certificate for whatever host is asked.

    The certificate is made per host name (from SNI) so clients see the name they expect.
    """
    default = _context_for("mirror.invalid")

    def choose(sock: ssl.SSLSocket, server_name: str | None, _context) -> None:
        if server_name:
            sock.context = _context_for(server_name)

    default.sni_callback = choose
    return default


def _context_for(host: str) -> ssl.SSLContext:
    global _TLS_FOLDER
    with _TLS_LOCK:
        if host in _TLS_CONTEXTS:
            return _TLS_CONTEXTS[host]
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        if _TLS_FOLDER is None:
            _TLS_FOLDER = Path(tempfile.mkdtemp(prefix="mediawatch-mirror-"))
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
        now = datetime.now(timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_file, key_file = _TLS_FOLDER / f"{host}.crt", _TLS_FOLDER / f"{host}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        _TLS_CONTEXTS[host] = context
        return context
