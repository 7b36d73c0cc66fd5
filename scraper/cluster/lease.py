"""A per-outlet lease in Redis, so two crawl hosts never crawl one outlet at once.

The crawl takes ``lease:<outlet>`` with SET NX EX before it starts, renews it every third of
its lifetime and deletes it when it ends; a crawl whose host dies loses it when it expires.
The value names the holder ("<host> <job>"), and renewing or releasing checks it is still
ours (a Lua script, so the check and the change are one step). Local overlap on one host is
the spool's outlet lock's business (scraper.crawl.locks); with it held, a lease still naming
this host can only be left by a crawl of this host that died, so it is taken over at once.
"""

from __future__ import annotations

import redis

from scraper.cluster import bus

# 1: renewed (or taken again, if it expired while Redis was away and nobody took it); 0: lost.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end
return 0
"""


class LeaseHeld(RuntimeError):
    """Another crawl holds the outlet; the message names its host and job."""


class Lease:
    def __init__(self, client: redis.Redis, outlet_id: str, host: str, job: str, seconds: int):
        self.client = client
        self.key = bus.lease(outlet_id)
        self.outlet_id = outlet_id
        self.host = host
        self.holder = f"{host} {job}"
        self.seconds = int(seconds)

    def acquire(self) -> "Lease":
        """Take the lease, or raise LeaseHeld naming who has it (redis errors pass through)."""
        if self.client.set(self.key, self.holder, nx=True, ex=self.seconds):
            return self
        current = (self.client.get(self.key) or b"").decode()
        if current.split(" ")[0] == self.host:
            # Our host, and we hold the outlet's local lock: that crawl is dead.
            if self.client.eval(_TAKE_OVER, 1, self.key, current, self.holder, self.seconds):
                return self
            current = (self.client.get(self.key) or b"").decode()
        if not current:  # it expired between the two calls
            return self.acquire()
        other_host, _, other_job = current.partition(" ")
        raise LeaseHeld(f"outlet '{self.outlet_id}' is being crawled by host '{other_host}' (job {other_job})")

    def renew(self) -> bool:
        """Extend the lease; False if another crawl has it now."""
        return bool(self.client.eval(_RENEW, 1, self.key, self.holder, self.seconds))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.holder)

    def holder_now(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value else None


def lease_holder(client: redis.Redis, outlet_id: str) -> str | None:
    value = client.get(bus.lease(outlet_id))
    return value.decode() if value else None
