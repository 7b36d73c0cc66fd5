"""The HTTP(S) download handler: Scrapy's own, with a bound on the size of response headers.

Scrapy bounds a response body (DOWNLOAD_MAXSIZE) but not its headers: Twisted's parser keeps
every header line a server sends, so a server that answers with 200 MB of headers puts 200 MB
in the crawler's memory before any limit applies. Here the header section of a response may
be at most MEDIAWATCH_MAX_HEADER_BYTES; past that the connection is dropped and the request
fails with ResponseHeadersTooLarge (recorded as ``too_large`` by ResponseLimitsMiddleware).
"""

from __future__ import annotations

from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)


class ResponseHeadersTooLarge(Exception):
    """A response's header section is over the limit."""


class _HeaderCappedParser(_LenientHTTPClientParser):
    # Instances are Twisted's parser objects with their class swapped (as Scrapy's lenient
    # parser is), so the count lives in attributes set by the protocol, not in __init__.
    _header_limit = 0
    _header_bytes = 0

    def lineReceived(self, line: bytes) -> None:
        self._header_bytes += len(line) + 1
        if self._header_limit and self._header_bytes > self._header_limit:
            raise ResponseHeadersTooLarge(
                f"response headers over {self._header_limit // 1024} kB (MEDIAWATCH_MAX_HEADER_BYTES)")
        super().lineReceived(line)


class _HeaderCappedProtocol(_LenientHTTP11ClientProtocol):
    header_limit = 0

    def request(self, request):
        deferred = super().request(request)
        # A parser raising in lineReceived makes HTTP11ClientProtocol give the request up with
        # that failure (its dataReceived catches everything the parser raises).
        self._parser.__class__ = _HeaderCappedParser
        self._parser._header_limit = self.header_limit
        return deferred


class BoundedHTTPDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler):
        super().__init__(crawler)
        limit = crawler.settings.getint("MEDIAWATCH_MAX_HEADER_BYTES")
        protocol = type("HeaderCappedProtocol", (_HeaderCappedProtocol,), {"header_limit": limit})

        class Factory(_LenientHTTP11ClientFactory):
            def buildProtocol(self, addr):
                return protocol(self._quiescentCallback)

        self._pool._factory = Factory
