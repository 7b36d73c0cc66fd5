"""The controller: the scheduler, running each outlet's crawl on its crawl host's Scrapyd.

`mediawatch --cluster cluster.yml schedule` is the single-host scheduler (scheduler.py: the
same jobs, job store, pause state, SIGHUP and SIGTERM handling) with another runner: instead of
a child process, each run is a Scrapyd job on the outlet's host (scraper/cluster/config.py:
pins, else rendezvous hashing), started with schedule.json, followed with listjobs.json and
stopped with cancel.json when it overruns its time limit or the controller stops. How it went
is read from the central archive, where the writer puts the run the host's spool recorded.

Moving an outlet (a pin, a host added, drained or removed) is a hand-over: before the first
run on the new host, the controller waits until no other host holds the outlet's lease and
the old host's publisher has nothing left that the writer has not applied, then gives the new
host the URL keys the archive holds for the outlet, so it fetches none of them again.

A watcher thread records each host's state in the archive's cluster_hosts table and closes
runs whose crawl died with its host (Scrapyd no longer knows the job, and everything the host
stored has reached the archive).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import redis

from archive.store import Archive, utcnow
from scheduler import DEEP_SUFFIX, HUNG_MARGIN_SECONDS, ScheduleConfig, SchedulerService, schedule_table
from scraper.cluster import bus
from scraper.cluster.config import ClusterConfig, ClusterConfigError, load_cluster
from scraper.cluster.deploy import deploy_version, outlet_fingerprint
from scraper.cluster.lease import lease_holder
from scraper.cluster.scrapyd import Scrapyd, ScrapydError
from scraper.cluster.tables import ensure_tables
from scraper.registry.config import DEFAULT_REGISTRY, Registry, load_registry

logger = logging.getLogger("mediawatch.controller")

SPIDER = "outlet"
# How long the controller keeps trying to reach a host about a job before giving up on it.
UNREACHABLE_GIVE_UP_SECONDS = 600
_HANDOVER_TTL_SECONDS = 24 * 3600
_HANDOVER_CHUNK = 5000


@dataclass
class JobOutcome:
    outlet_id: str
    host: str
    job_id: str | None
    # The crawl_runs row the host recorded (from the central archive), None if none came.
    run: dict | None
    message: str = ""

    @property
    def exit_code(self) -> int:
        return 0 if self.run is not None and self.run["status"] == "ok" else 1

    def summary(self) -> str:
        where = f"{self.outlet_id} on {self.host}"
        if self.run is None:
            return f"{where}: did not run: {self.message}"
        run = self.run
        note = f"; {self.message}" if self.message else ""
        return (f"{where}: {run['status']}, {run['pages_fetched']} pages, {run['articles_new']} new articles, "
                f"{run['articles_updated']} updated, {run['errors']} errors (job {self.job_id}){note}")


class HostWatch:
    """Each host's job lists, fetched at most once per `max_age` seconds whoever asks."""

    def __init__(self, cluster: ClusterConfig):
        self.cluster = cluster
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict | None, str | None]] = {}
        self._apis: dict[str, Scrapyd] = {}

    def api(self, host: str) -> Scrapyd:
        with self._lock:
            if host not in self._apis:
                self._apis[host] = Scrapyd(self.cluster.host(host), self.cluster.project)
            return self._apis[host]

    def jobs(self, host: str, max_age: float, not_before: float = 0.0) -> tuple[dict | None, str | None]:
        """(job lists, None) or (None, why the host could not be asked). A cached answer is
        used if younger than `max_age` and fetched after `not_before` (time.monotonic())."""
        with self._lock:
            cached = self._cache.get(host)
        if cached and time.monotonic() - cached[0] < max_age and cached[0] > not_before:
            return cached[1], cached[2]
        try:
            jobs, error = self.api(host).jobs(), None
        except ScrapydError as exc:
            jobs, error = None, str(exc)
        with self._lock:
            self._cache[host] = (time.monotonic(), jobs, error)
        return jobs, error

    def state(self, host: str, job_id: str, max_age: float, not_before: float = 0.0) -> tuple[str | None, str | None]:
        """('pending' | 'running' | 'finished' | 'unknown', None), or (None, error)."""
        jobs, error = self.jobs(host, max_age, not_before)
        if jobs is None:
            return None, error
        for state in ("running", "pending", "finished"):
            if any(job["id"] == job_id for job in jobs.get(state, [])):
                return state, None
        return "unknown", None

    def close(self) -> None:
        for api in self._apis.values():
            api.close()


class ScrapydRunner:
    """Runs one outlet's crawl as a Scrapyd job on its host and follows it to the end.

    It reads the central archive read-only (the writer and the watcher write it): the archive
    must exist, as it does once the service or `run` has synced the outlets into it.
    """

    def __init__(self, config: ScheduleConfig, cluster: ClusterConfig):
        self.config = config
        self.version = deploy_version()
        self._lock = threading.Lock()
        self._jobs: dict[str, str] = {}  # job id -> host, for the jobs being followed
        self._stopping = False
        self.use(cluster)

    def use(self, cluster: ClusterConfig) -> None:
        """Follow a (re)loaded cluster file from the next run on."""
        self.cluster = cluster
        self.watch = HostWatch(cluster)
        self.redis = bus.connect(cluster.redis_url)

    # -- one run -------------------------------------------------------------------------------

    def run(self, outlet_id: str, deep_days: int | None = None) -> JobOutcome | None:
        host = self.cluster.host_for(outlet_id)
        with self._lock:
            if self._stopping:
                return None
        try:
            handover, waiting = self._prepare_move(outlet_id, host.name)
        except redis.RedisError as exc:
            return JobOutcome(outlet_id, host.name, None, None, f"cannot check the outlet's hand-over in Redis: {exc}")
        if waiting:
            return JobOutcome(outlet_id, host.name, None, None, waiting)
        job_id = f"{outlet_id}{'-deep' if deep_days else ''}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        args = {"outlet": outlet_id, "registry": host.registry, "handover": "1" if handover else None,
                "entry": self._entry_fingerprint(outlet_id)}
        if deep_days:
            since = datetime.now(timezone.utc).date() - timedelta(days=deep_days)
            args.update(mode="backfill", since=since.isoformat())
        settings = {
            "MEDIAWATCH_ARCHIVE": host.spool,
            "MEDIAWATCH_HOST": host.name,
            "MEDIAWATCH_REDIS_URL": self.cluster.redis_url,
            "MEDIAWATCH_LEASE_SECONDS": self.cluster.lease_seconds,
            "MEDIAWATCH_EXTRACT_WORKERS": host.extract_workers,
            "CLOSESPIDER_TIMEOUT": self.config.time_limit,
            "LOG_LEVEL": "INFO",
        }
        api = self.watch.api(host.name)
        try:
            api.schedule(SPIDER, job_id, version=self.version, settings=settings, args=args)
        except ScrapydError as exc:
            hint = "; run `mediawatch deploy`" if "version" in str(exc) and "not found" in str(exc) else ""
            return JobOutcome(outlet_id, host.name, None, None, f"{exc}{hint}")
        with self._lock:
            self._jobs[job_id] = host.name
        logger.info("%s: job %s scheduled on %s", outlet_id, job_id, host.name)
        try:
            problem = self._follow(host.name, job_id)
        finally:
            with self._lock:
                self._jobs.pop(job_id, None)
        # A job lost with its host has no end on its way (its spool closes the run when the
        # host crawls again): no point waiting for one.
        run = None if self._stopping or problem else self._settled_run(host.name, job_id)
        if run is None:
            run = self._run_row(host.name, job_id)
        message = problem or ""
        if run is None and not message:
            message = api.log_tail(SPIDER, job_id)
        elif run is not None and run["status"] == "running":
            message = message or "the run's end has not reached the archive yet (writer lag)"
        return JobOutcome(outlet_id, host.name, job_id, run, message)

    def _entry_fingerprint(self, outlet_id: str) -> str | None:
        """The fingerprint of the outlet's entry in the controller's registry (re-read when the
        file changes), for the host to check its own copy against."""
        path = self.config.registry_path or DEFAULT_REGISTRY
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if getattr(self, "_registry_stamp", None) != stamp:
            self._registry, self._registry_stamp = load_registry(path, strict=False), stamp
        outlet = self._registry.outlets.get(outlet_id)
        return outlet_fingerprint(self._registry, outlet) if outlet else None

    def _follow(self, host: str, job_id: str) -> str | None:
        """Wait for the job to end, cancelling it when it overruns; a problem, or None."""
        poll = self.cluster.poll_seconds
        queued_at, running_since, unreachable_since, cancelled_at = time.monotonic(), None, None, None
        unknown_since = None
        limit = self.config.time_limit
        while True:
            # Only job lists fetched after the job was scheduled can know it.
            state, error = self.watch.state(host, job_id, max_age=poll / 2, not_before=queued_at)
            now = time.monotonic()
            if state is None:
                unreachable_since = unreachable_since or now
                if now - unreachable_since > max(UNREACHABLE_GIVE_UP_SECONDS, limit):
                    return f"lost track of job {job_id}: {error}"
            else:
                unreachable_since = None
            if state == "finished":
                return None
            if state == "unknown":
                unknown_since = unknown_since or now
                if now - unknown_since >= max(3 * poll, 2.0):
                    return f"Scrapyd on {host} no longer knows job {job_id} (restarted?)"
            else:
                unknown_since = None
            if state == "pending" and now - queued_at > limit:
                self._cancel(host, job_id, "INT")
                return f"job {job_id} waited in {host}'s queue longer than the time limit ({limit} s); removed"
            if state == "running":
                running_since = running_since or now
                overrun = now - running_since - limit - HUNG_MARGIN_SECONDS
                # The crawl stops itself at its time limit (CLOSESPIDER_TIMEOUT); past it and a
                # margin, it is hung: ask (INT), then after the grace period kill it.
                if overrun > 0 and cancelled_at is None:
                    logger.error("%s: job %s overran its time limit; cancelling it", host, job_id)
                    self._cancel(host, job_id, "INT")
                    cancelled_at = now
                elif cancelled_at is not None and now - cancelled_at > self.config.stop_grace:
                    self._cancel(host, job_id, "KILL")
                    cancelled_at = float("inf")
            time.sleep(poll)

    def _cancel(self, host: str, job_id: str, signal: str) -> None:
        try:
            self.watch.api(host).cancel(job_id, signal)
        except ScrapydError as exc:
            logger.error("could not cancel job %s on %s: %s", job_id, host, exc)

    def _run_row(self, host: str, job_id: str) -> dict | None:
        with Archive(self.config.archive, readonly=True) as archive:
            rows = list(archive.db.query("SELECT * FROM crawl_runs WHERE host = ? AND job_id = ? ORDER BY id DESC LIMIT 1",
                                         [host, job_id]))
        return rows[0] if rows else None

    def _settled_run(self, host: str, job_id: str) -> dict | None:
        """The job's run once its end reached the archive (waiting up to settle_seconds); None
        when no run came and the writer has everything the host stored (so none will)."""
        deadline = time.monotonic() + self.cluster.settle_seconds
        while True:
            run = self._run_row(host, job_id)
            if run is not None and run["status"] != "running":
                return run
            if run is None and self._host_applied(host):
                time.sleep(0.5)  # the spool may not have published the job's first events yet
                if self._run_row(host, job_id) is None and self._host_applied(host):
                    return None
            if time.monotonic() > deadline:
                return run
            time.sleep(0.5)

    def _host_applied(self, host: str) -> bool:
        try:
            spooled = self.redis.hget(bus.SPOOLED, host)
            applied = self.redis.hget(bus.APPLIED, host)
        except redis.RedisError:
            return False
        return spooled is not None and applied is not None and int(applied) >= int(spooled)

    # -- moving an outlet ----------------------------------------------------------------------

    def _prepare_move(self, outlet_id: str, host: str) -> tuple[bool, str | None]:
        """(hand over?, why not now). Hands the outlet over when it changes host."""
        with Archive(self.config.archive, readonly=True) as archive:
            row = archive.conn.execute("SELECT host FROM crawl_runs WHERE outlet_id = ? ORDER BY id DESC LIMIT 1",
                                       (outlet_id,)).fetchone()
            archived = archive.conn.execute("SELECT EXISTS(SELECT 1 FROM raw_pages WHERE outlet_id = ?)",
                                            (outlet_id,)).fetchone()[0]
        previous = row[0] if row else None
        if not archived or previous == host:
            return False, None
        if previous is not None:
            holder = lease_holder(self.redis, outlet_id)
            if holder and holder.split(" ")[0] != host:
                return False, f"moving here from {previous}, but {holder.split(' ')[0]} is still crawling it"
            spooled = self.redis.hget(bus.SPOOLED, previous)
            applied = int(self.redis.hget(bus.APPLIED, previous) or 0)
            if spooled is not None and int(spooled) > applied and self.redis.exists(bus.publisher(previous)):
                return False, (f"moving here from {previous} once the {int(spooled) - applied} events {previous} "
                               "stored are in the archive")
            if spooled is not None and int(spooled) > applied:
                logger.warning("%s: moving from %s, whose publisher is not running: the %d events it had not sent "
                               "are not in the archive yet", outlet_id, previous, int(spooled) - applied)
        self._hand_over(outlet_id, host, previous or "the archive")
        return True, None

    def _hand_over(self, outlet_id: str, host: str, origin: str) -> None:
        key = bus.handover(outlet_id, host)
        with Archive(self.config.archive, readonly=True) as archive:
            rows = archive.conn.execute(
                "SELECT url_key, url FROM raw_pages WHERE outlet_id = ?"
                " UNION SELECT url_key, url FROM articles WHERE outlet_id = ?", (outlet_id, outlet_id)).fetchall()
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, "", origin)
        for start in range(0, len(rows), _HANDOVER_CHUNK):
            pipe.hset(key, mapping=dict(rows[start:start + _HANDOVER_CHUNK]))
        pipe.expire(key, _HANDOVER_TTL_SECONDS)
        pipe.execute()
        logger.info("%s: moves from %s to %s; %d archived pages handed over", outlet_id, origin, host, len(rows))

    # -- stopping ------------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Start no more jobs; ask the running ones to finish, kill them after the grace period."""
        with self._lock:
            self._stopping = True
            jobs = dict(self._jobs)
        for job_id, host in jobs.items():
            self._cancel(host, job_id, "INT")
        deadline = time.monotonic() + self.config.stop_grace
        while jobs and time.monotonic() < deadline:
            time.sleep(min(1.0, self.cluster.poll_seconds))
            jobs = {j: h for j, h in jobs.items()
                    if self.watch.state(h, j, max_age=0)[0] in ("running", "pending", None)}
        for job_id, host in jobs.items():
            logger.warning("job %s on %s did not stop within %ss; killing it", job_id, host, self.config.stop_grace)
            self._cancel(host, job_id, "KILL")


# -- the service ----------------------------------------------------------------------------


class ClusterService(SchedulerService):
    """The scheduler service with the Scrapyd runner and a watcher of the hosts."""

    def __init__(self, config: ScheduleConfig, cluster_path):
        super().__init__(config)
        self.cluster_path = cluster_path
        self.runner = ScrapydRunner(config, load_cluster(cluster_path))

    def load(self) -> Registry:
        registry = super().load()
        try:
            self.runner.use(load_cluster(self.cluster_path))
        except ClusterConfigError as exc:  # keep placing outlets as before
            logger.error("%s; keeping the current cluster configuration", exc)
        with Archive(self.config.archive) as archive:
            archive.sync_outlets(registry.outlets.values())
        placement = self.runner.cluster.placement(registry.outlets)
        for host in self.runner.cluster.hosts:
            logger.info("%s: %d outlets", host, sum(1 for h in placement.values() if h == host))
        self._registry = registry
        return registry

    def run(self) -> None:
        watcher = threading.Thread(target=self._watch, name="cluster-watch", daemon=True)
        watcher.start()
        super().run()

    def _watch(self) -> None:
        while not self._stop.wait(max(5.0, self.runner.cluster.poll_seconds)):
            try:
                check_hosts(self.config.archive, self.runner.cluster, getattr(self, "_registry", None),
                            self.runner.watch)
                close_dead_runs(self.config.archive, self.runner.cluster, self.runner.watch, self.runner.redis)
            except Exception:  # the watcher must outlive a bad moment (the archive busy, Redis away)
                logger.exception("checking the crawl hosts failed")


def check_hosts(archive_path, cluster: ClusterConfig, registry: Registry | None, watch: HostWatch) -> list[dict]:
    """Ask every host's Scrapyd how it is; record it in the archive's cluster_hosts table."""
    placement = cluster.placement(registry.outlets) if registry else {}
    rows = []
    for name, host in cluster.hosts.items():
        jobs, error = watch.jobs(name, max_age=0)
        state = "unreachable" if jobs is None else ("drained" if host.drain else "up")
        rows.append({
            "host": name, "url": host.url, "state": state,
            "outlets": sum(1 for h in placement.values() if h == name),
            "running": len(jobs["running"]) if jobs else None, "pending": len(jobs["pending"]) if jobs else None,
            "finished": len(jobs["finished"]) if jobs else None, "checked_at": utcnow(), "message": error,
        })
    with Archive(archive_path) as archive:
        with archive.write() as conn:
            ensure_tables(conn)
            for row in rows:
                conn.execute(
                    f"INSERT OR REPLACE INTO cluster_hosts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()))
    return rows


def close_dead_runs(archive_path, cluster: ClusterConfig, watch: HostWatch, client) -> int:
    """Mark interrupted the runs still 'running' whose crawl is gone: its host's Scrapyd does
    not run it, and the writer has applied all the host stored (so no end is on its way). A
    run's real end, should the host's spool send one later, replaces this."""
    with Archive(archive_path, readonly=True) as archive:
        running = archive.conn.execute(
            "SELECT id, host, job_id FROM crawl_runs WHERE status = 'running' AND host IS NOT NULL").fetchall()
    if not running:
        return 0
    try:
        spooled = bus.hash_ints(client, bus.SPOOLED)
        applied = bus.hash_ints(client, bus.APPLIED)
    except redis.RedisError:
        return 0
    dead = []
    for run_id, host, job_id in running:
        if host not in cluster.hosts or applied.get(host, 0) < spooled.get(host, 0):
            continue
        state, _ = watch.state(host, job_id or "", max_age=cluster.poll_seconds)
        if state in ("finished", "unknown"):
            dead.append((utcnow(), f"the crawl ended without finishing the run (Scrapyd job {job_id} on {host} is "
                                   f"{'finished' if state == 'finished' else 'gone'})", run_id))
    if dead:
        with Archive(archive_path) as archive:
            with archive.write() as conn:
                conn.executemany("UPDATE crawl_runs SET status = 'interrupted', finished = coalesce(finished, ?),"
                                 " message = coalesce(message, ?) WHERE id = ? AND status = 'running'", dead)
    return len(dead)


# -- inspection -----------------------------------------------------------------------------


def cluster_schedule_table(config: ScheduleConfig, registry: Registry, cluster: ClusterConfig) -> list[dict]:
    """schedule_table's rows, each with the host its outlet runs on (and whether pinned)."""
    placement = cluster.placement(registry.outlets)
    rows = schedule_table(config, registry)
    for row in rows:
        outlet_id = row["outlet"].removesuffix(DEEP_SUFFIX)
        row["host"] = placement.get(outlet_id)
        row["pinned"] = outlet_id in cluster.pins
    return rows


def cluster_status(cluster: ClusterConfig, archive_path=None) -> dict:
    """What `mediawatch cluster status` shows: Redis, the writer, and each host's Scrapyd,
    publisher and lag."""
    status = {"redis": None, "writer": None, "hosts": []}
    client = bus.connect(cluster.redis_url)
    try:
        client.ping()
        status["redis"] = "ok"
        writer = client.get(bus.WRITER)
        status["writer"] = "running" if writer else "not running"
        spooled, published = bus.hash_ints(client, bus.SPOOLED), bus.hash_ints(client, bus.PUBLISHED)
        applied = bus.hash_ints(client, bus.APPLIED)
        publishers = {name: bool(client.exists(bus.publisher(name))) for name in cluster.hosts}
    except redis.RedisError as exc:
        status["redis"] = f"unreachable: {exc}"
        spooled, published, applied, publishers = {}, {}, {}, {}
    finally:
        client.close()
    for name, host in cluster.hosts.items():
        with Scrapyd(host, cluster.project) as api:
            try:
                daemon = api.daemon_status()
                scrapyd = f"up: {daemon['running']} running, {daemon['pending']} pending"
                versions = api.versions()
            except ScrapydError as exc:
                scrapyd, versions = f"unreachable ({exc})", []
        behind = max(spooled.get(name, 0), published.get(name, 0)) - applied.get(name, 0) if applied or spooled else None
        status["hosts"].append({
            "host": name, "drain": host.drain, "scrapyd": scrapyd,
            "deployed": deploy_version() in versions,
            "publisher": "running" if publishers.get(name) else "not running",
            "spooled": spooled.get(name), "applied": applied.get(name), "behind": behind,
        })
    return status
