"""The crawl host's publisher: sends its spool's outbox to its Redis stream, in order.

Runs beside Scrapyd on every crawl host (`mediawatch publisher`). Each entry goes out with its
outbox sequence number as its stream id, so:

- a batch sent twice (the publisher died between sending and noting it) is refused by Redis
  entry by entry, and nothing is doubled;
- where to resume is what Redis says the stream last had, not a guess;
- a Redis that comes back without what it had been sent (restarted without persistence, or
  from an older snapshot) shows it: its stream ends before what the spool noted as sent. The
  publisher then sends again everything the writer has not committed (the writer keeps that
  number in the archive and repeats it to Redis), and the writer skips what it already has.

Redis being away only delays: the publisher retries with a growing pause, and the spool
keeps everything meanwhile.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import redis

from scraper.cluster import bus
from scraper.cluster.spool import Spool

logger = logging.getLogger("mediawatch.publisher")

BATCH = 200
# How often an idle publisher checks that Redis still has what it was sent.
RECHECK_SECONDS = 2.0


class StreamConflict(RuntimeError):
    """The host's stream holds entries this spool never wrote: two hosts share one name."""


class Publisher:
    def __init__(self, spool_path: str, host: str, redis_url: str, *, poll_seconds: float = 0.2):
        self.spool = Spool(spool_path)
        self.host = host
        self.redis_url = redis_url
        self.poll_seconds = poll_seconds
        self.client = bus.connect(redis_url)
        self._waiting_for_writer = False
        self._resending = False
        self._checked = 0.0

    def close(self) -> None:
        self.spool.close()
        self.client.close()

    def run(self, stop: threading.Event) -> None:
        """Publish until `stop` is set; Redis errors only pause it."""
        pause = self.poll_seconds
        outage_since = None
        while not stop.is_set():
            try:
                sent = self.publish_once()
            except redis.RedisError as exc:
                if outage_since is None:
                    outage_since = time.monotonic()
                    logger.warning("Redis unreachable (%s); the spool keeps everything, retrying", exc)
                pause = min(pause * 2, 5.0)
                stop.wait(pause)
                continue
            if outage_since is not None:
                logger.warning("Redis back after %.0f s; catching up from the spool", time.monotonic() - outage_since)
                outage_since = None
            pause = self.poll_seconds
            if sent < BATCH:
                stop.wait(self.poll_seconds)

    def publish_once(self) -> int:
        """Send the next batch of the outbox; returns how many outbox rows it covered."""
        client, host = self.client, self.host
        noted = self.spool.published_seq()
        last = self.spool.last_seq()
        if last == noted and time.monotonic() - self._checked < RECHECK_SECONDS:
            return 0  # nothing new; Redis is looked at (and the heartbeat beaten) every few seconds
        self._checked = time.monotonic()
        top = bus.stream_top(client, host)
        start = top
        if top > last:
            raise StreamConflict(
                f"the Redis stream of host '{host}' goes up to event {top}, but this spool has only {last}: "
                f"is another crawl host using the name '{host}'?")
        if top < noted:
            applied = client.hget(bus.APPLIED, host)
            if applied is None:
                if not self._waiting_for_writer:
                    logger.warning("Redis lost events %d-%d of this host; waiting for the writer to say which "
                                   "it has committed before sending them again", top + 1, noted)
                    self._waiting_for_writer = True
                self._heartbeat(noted, last)
                return 0
            start = max(top, int(applied))
            if not self._resending:
                logger.warning("Redis lost events %d-%d of this host; sending again from %d (the writer has up to %s)",
                               top + 1, noted, start + 1, int(applied))
            self._resending = True
            self._waiting_for_writer = False
        else:
            self._resending = False
        events, read_to = self.spool.events(start, BATCH)
        if events:
            pipe = client.pipeline(transaction=False)
            for event in events:
                pipe.xadd(bus.stream(host), event.fields(), id=bus.entry_id(event.seq))
            for result in pipe.execute(raise_on_error=False):
                if isinstance(result, redis.ResponseError) and "equal or smaller" not in str(result):
                    raise result  # anything but "already there" is a real failure
        if read_to > noted:
            self.spool.set_published(read_to)
        self._heartbeat(read_to, last)
        return read_to - start

    def _heartbeat(self, published: int, spooled: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(bus.HOSTS, self.host)
        pipe.hset(bus.PUBLISHED, self.host, published)
        pipe.hset(bus.SPOOLED, self.host, spooled)
        pipe.set(bus.publisher(self.host), json.dumps({"pid": os.getpid(), "published": published,
                                                        "spooled": spooled, "at": time.time()}),
                 ex=bus.HEARTBEAT_SECONDS)
        pipe.execute()
