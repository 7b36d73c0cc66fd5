"""The Redis side of the cluster: every key name in one place, and connections.

Keys (all under ``mediawatch:``):

``spool:<host>``      the host's stream: one entry per outbox row of its spool, with the row's
                      sequence number as the entry id (``<seq>-0``), so Redis itself refuses a
                      second copy of an entry and a stream that lost entries shows it
``hosts``             set of hosts that have published
``spooled`` / ``published`` / ``applied``
                      hashes host -> sequence number: the newest in the host's spool, the
                      newest sent to its stream, the newest the writer has committed
``lease:<outlet>``    "<host> <job>" of the crawl holding the outlet (SET NX EX, renewed)
``handover:<outlet>:<host>``
                      the outlet's archived URL keys, for the host it moves to
``writer``, ``publisher:<host>``
                      heartbeats (expire when the process stops)
"""

from __future__ import annotations

import redis

PREFIX = "mediawatch:"
HOSTS = PREFIX + "hosts"
SPOOLED = PREFIX + "spooled"
PUBLISHED = PREFIX + "published"
APPLIED = PREFIX + "applied"
WRITER = PREFIX + "writer"
HEARTBEAT_SECONDS = 30


def stream(host: str) -> str:
    return f"{PREFIX}spool:{host}"


def lease(outlet_id: str) -> str:
    return f"{PREFIX}lease:{outlet_id}"


def handover(outlet_id: str, host: str) -> str:
    return f"{PREFIX}handover:{outlet_id}:{host}"


def publisher(host: str) -> str:
    return f"{PREFIX}publisher:{host}"


def entry_id(seq: int) -> str:
    return f"{seq}-0"


def entry_seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def connect(url: str, *, block_seconds: float = 0) -> redis.Redis:
    """A client for `url`. redis-py 8 gives up on a read after 5 s by default; a blocking read
    (XREAD BLOCK) waits longer than that, so its socket timeout must exceed the block."""
    return redis.Redis.from_url(url, socket_timeout=max(5.0, block_seconds + 10), socket_connect_timeout=5,
                                health_check_interval=30)


def stream_top(client: redis.Redis, host: str) -> int:
    """The sequence number of the newest entry the host's stream ever had (0 if none).

    Redis keeps it (last-generated-id) after the entries are trimmed, so it tells what was
    published even when the writer has trimmed everything.
    """
    try:
        info = client.xinfo_stream(stream(host))
    except redis.ResponseError as exc:
        if "no such key" in str(exc).lower():
            return 0
        raise
    return entry_seq(info["last-generated-id"])


def hash_ints(client: redis.Redis, key: str) -> dict[str, int]:
    return {name.decode(): int(value) for name, value in client.hgetall(key).items()}
