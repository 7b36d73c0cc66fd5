"""Scheduled crawls: one APScheduler job per outlet, each run a separate crawl process.

An outlet with a `deep_crawl` entry gets a second job, `<outlet>:deep`: on its own (rarer)
schedule it re-reads the outlet's archive sitemaps for the last N days and fetches what the
frequent runs missed (`mediawatch backfill OUTLET --since ...`).

Jobs live in their own SQLite job store (`<archive>.d/jobs.sqlite` unless told otherwise,
among the archive's other companions: archive/companions.py), so a restart knows when each
outlet last ran: runs missed while the scheduler was down coalesce into one, and a job never
has two runs at once. The crawl itself runs as `python -m scraper.cli crawl OUTLET` in a child
process (Twisted's reactor cannot be restarted), with a time limit; the crawl holds the
outlet's lock, so a manual `mediawatch run` of the same outlet cannot overlap a scheduled one
either.

The jobs belong to the running scheduler alone: it derives them from the registry at start and
on SIGHUP. What ops decide — which outlets are paused — is kept apart, in a small table of the
same file that `mediawatch pause`/`resume` write from any process and the scheduler reads
before every run. So pausing works with no scheduler running, takes effect at once in a
running one, survives restarts, and survives an outlet entry being broken for a while.

SIGTERM/SIGINT stop the scheduler: running crawls get SIGTERM (Scrapy finishes cleanly and
marks its run interrupted), and are killed if they have not ended after a grace period.

Looking (`schedule list`) changes nothing: it reads the job store, the pause state, the
scheduler's lock and the archive without creating any of them.
"""

from __future__ import annotations

import logging
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from archive.companions import Companions
from archive.readonly import connect_read_only
from archive.store import Archive, utcnow
from scraper.crawl.locks import SchedulerLock
from scraper.registry.config import ConfigError, Registry, load_registry
from scraper.registry.schedules import cron_trigger

logger = logging.getLogger("mediawatch.scheduler")

# Runs missed while the scheduler was down (or busy) still happen, once, within this window.
MISFIRE_GRACE_SECONDS = 6 * 3600
# A crawl stops itself at its time limit; one still running this much later is hung: kill it.
HUNG_MARGIN_SECONDS = 60
# Jobs refer to their function by name: they are pickled into the job store.
JOB_FUNCTION = "scheduler:scheduled_run"


@dataclass(frozen=True)
class ScheduleConfig:
    archive: Path
    registry_path: Path | None = None
    jobs: Path | None = None
    logs: Path | None = None
    time_limit: int = 3600
    # How long a crawl asked to stop (SIGTERM) gets before it is killed.
    stop_grace: int = 30
    # Crawls running at once (each is a process with its own extraction workers).
    max_crawls: int = 4

    @property
    def jobs_path(self) -> Path:
        return self.jobs or Companions(self.archive).jobs

    @property
    def logs_path(self) -> Path:
        return self.logs or Companions(self.archive).logs


class JobStoreError(RuntimeError):
    """The job store cannot be read or written; the message names the file."""


def _read_job_store(config: ScheduleConfig, query: str) -> list[tuple]:
    """Rows of `query` over the job store; none if the store or its table does not exist yet.
    Creates nothing, even in a folder it may not write."""
    if not config.jobs_path.exists():
        return []
    try:
        conn = connect_read_only(config.jobs_path).conn
    except sqlite3.Error as exc:
        raise JobStoreError(f"cannot read job store {config.jobs_path}: {exc}") from None
    try:
        return conn.execute(query).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise JobStoreError(f"cannot read job store {config.jobs_path}: {exc}") from None
    finally:
        conn.close()


# -- pause state --------------------------------------------------------------------------


def paused_outlets(config: ScheduleConfig) -> dict[str, str]:
    """Paused outlet ids, each with when it was paused (read only)."""
    return dict(_read_job_store(config, "SELECT outlet_id, paused_at FROM mediawatch_paused"))


def set_paused(config: ScheduleConfig, registry: Registry, outlet_id: str, paused: bool) -> bool:
    """Pause or resume an outlet's scheduled runs; False if it already was so.

    Pausing needs an outlet of the registry (a typo must not look like it worked); resuming
    also clears an outlet that has since left the registry. Only a change writes: a refused
    or idle request leaves the job store as it was, or uncreated.
    """
    if (outlet_id in paused_outlets(config)) == paused:
        registry.select([outlet_id])
        return False
    if paused:
        registry.select([outlet_id])
    config.jobs_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(config.jobs_path, timeout=30, isolation_level=None)
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS mediawatch_paused"
                         " (outlet_id TEXT PRIMARY KEY, paused_at TEXT NOT NULL)")
            if paused:
                cursor = conn.execute("INSERT OR IGNORE INTO mediawatch_paused VALUES (?, ?)", (outlet_id, utcnow()))
            else:
                cursor = conn.execute("DELETE FROM mediawatch_paused WHERE outlet_id = ?", (outlet_id,))
            return cursor.rowcount > 0
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise JobStoreError(f"cannot write job store {config.jobs_path}: {exc}") from None


# -- jobs ---------------------------------------------------------------------------------


def open_scheduler(config: ScheduleConfig) -> BackgroundScheduler:
    """A scheduler over the persistent job store (not started)."""
    config.jobs_path.parent.mkdir(parents=True, exist_ok=True)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{config.jobs_path}")},
        executors={"default": ThreadPoolExecutor(config.max_crawls)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone="UTC",
    )


DEEP_SUFFIX = ":deep"


@dataclass(frozen=True)
class JobSpec:
    """What one job of the store should be: its id, trigger, name and arguments."""

    id: str
    schedule: str
    name: str
    kwargs: dict


def job_specs(registry: Registry) -> list[JobSpec]:
    """The jobs the registry asks for: every outlet's crawl, and its deep crawl if it has one."""
    specs = []
    for outlet in registry.outlets.values():
        specs.append(JobSpec(outlet.id, outlet.schedule, job_name(outlet), {"outlet_id": outlet.id}))
        if outlet.deep_crawl:
            deep = outlet.deep_crawl
            specs.append(JobSpec(outlet.id + DEEP_SUFFIX, deep.schedule,
                                 f"{outlet.id} deep '{deep.schedule}' last {deep.days} days",
                                 {"outlet_id": outlet.id, "deep_days": deep.days}))
    return specs


def sync_jobs(scheduler: BackgroundScheduler, registry: Registry) -> None:
    """Make the job store hold the registry's jobs (job_specs), with their current schedules.

    A job whose schedule is unchanged keeps its next run time; jobs of outlets no longer in
    the registry (or whose entry is broken) are removed. Pause state is not touched.
    """
    specs = job_specs(registry)
    for spec in specs:
        job = scheduler.get_job(spec.id)
        if job is not None and (job.name, job.func_ref, job.kwargs) == (spec.name, JOB_FUNCTION, spec.kwargs):
            continue
        scheduler.add_job(JOB_FUNCTION, cron_trigger(spec.schedule), id=spec.id, name=spec.name,
                          kwargs=spec.kwargs, replace_existing=True)
        logger.info("%s: scheduled '%s'", spec.id, spec.schedule)
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
            logger.info("%s: no longer scheduled", job.id)


def job_name(outlet) -> str:
    """Names the outlet in APScheduler's own messages, and records the schedule the job has."""
    return f"{outlet.id} '{outlet.schedule}'"


@dataclass(frozen=True)
class StoredJob:
    name: str
    next_run_time: datetime | None


def read_jobs(config: ScheduleConfig) -> dict[str, StoredJob]:
    """The stored jobs by id, read only: the running scheduler owns them.

    Read from APScheduler's table as its SQLAlchemy store pickles them, rather than through
    a scheduler started paused: starting one creates the table, and drops any job it cannot
    restore.
    """
    jobs = {}
    for job_id, state in _read_job_store(config, "SELECT id, job_state FROM apscheduler_jobs"):
        job = pickle.loads(state)
        jobs[job_id] = StoredJob(job["name"], job["next_run_time"])
    return jobs


# -- running crawls -----------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    outlet_id: str
    exit_code: int
    log_file: Path
    # The crawl_runs row the crawl wrote, None when it stopped before starting a run (for
    # instance because the outlet was already being crawled): the log file says why.
    run: dict | None

    def summary(self) -> str:
        if self.run is None:
            return f"{self.outlet_id}: did not run (exit code {self.exit_code}): {self.log_tail()}"
        run = self.run
        return (f"{self.outlet_id}: {run['status']}, {run['pages_fetched']} pages, {run['articles_new']} new "
                f"articles, {run['articles_updated']} updated, {run['errors']} errors (log: {self.log_file})")

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "no log"
        return " / ".join(line for line in text.strip().splitlines()[-lines:]) or "empty log"


class CrawlRunner:
    """Starts crawl processes and keeps hold of them, so they can be stopped cleanly."""

    def __init__(self, config: ScheduleConfig):
        self.config = config
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def command(self, outlet_id: str, log_file: Path, deep_days: int | None = None) -> list[str]:
        command = [sys.executable, "-m", "scraper.cli"]
        if self.config.registry_path:
            command += ["--outlets", str(self.config.registry_path)]
        command += ["--db", str(self.config.archive)]
        if deep_days:
            since = datetime.now(timezone.utc).date() - timedelta(days=deep_days)
            command += ["backfill", outlet_id, "--since", since.isoformat()]
        else:
            command += ["crawl", outlet_id]
        return command + ["--time-limit", str(self.config.time_limit), "--log-file", str(log_file)]

    def run(self, outlet_id: str, deep_days: int | None = None) -> RunOutcome | None:
        """Crawl one outlet in a child process and wait for it; None if stopping. With
        `deep_days`, the deep crawl: the outlet's archive sitemaps over that many days."""
        log_dir = self.config.logs_path / outlet_id
        log_dir.mkdir(parents=True, exist_ok=True)
        kind = "-deep" if deep_days else ""
        log_file = log_dir / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}{kind}.log"
        child_key = outlet_id + (DEEP_SUFFIX if deep_days else "")
        with Archive(self.config.archive) as archive:  # creates the schema on a first run
            last_run = archive.conn.execute("SELECT coalesce(max(id), 0) FROM crawl_runs").fetchone()[0]
        with self._lock:
            if self._stopping:
                return None
            with open(log_file, "a", encoding="utf-8") as output:
                # Its own session: a Ctrl+C at the terminal must not reach the crawl directly,
                # or the SIGTERM we forward would be its second signal (Scrapy's "force stop").
                child = subprocess.Popen(self.command(outlet_id, log_file, deep_days), stdout=output,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            self._children[child_key] = child
        logger.info("%s: crawl started (pid %d, log %s)", outlet_id, child.pid, log_file)
        try:
            child.wait(timeout=self.config.time_limit + self.config.stop_grace + HUNG_MARGIN_SECONDS)
        except subprocess.TimeoutExpired:
            logger.error("%s: crawl overran its time limit by %ss; killing it", outlet_id,
                         self.config.stop_grace + HUNG_MARGIN_SECONDS)
            child.kill()
            child.wait()
            self._settle(child, "timed out", "killed: the crawl process overran its time limit")
        except KeyboardInterrupt:
            # Ctrl+C on `mediawatch run` (the scheduler's jobs run in threads, never see it).
            self._stop([child])
        finally:
            with self._lock:
                self._children.pop(child_key, None)
        self._settle(child, "interrupted", f"the crawl process ended (exit code {child.returncode}) "
                                           "without finishing the run")
        return RunOutcome(outlet_id, child.returncode, log_file, self._run_row(outlet_id, child, last_run))

    def stop_all(self) -> None:
        """Start no more crawls; ask the running ones to finish, kill them after the grace period."""
        with self._lock:
            self._stopping = True
            children = list(self._children.values())
        self._stop(children)

    def _stop(self, children: list[subprocess.Popen]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_grace
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("crawl pid %d did not stop within %ss; killing it", child.pid, self.config.stop_grace)
                child.kill()
                child.wait()
                self._settle(child, "interrupted", f"killed: did not stop within {self.config.stop_grace}s "
                                                   "of being asked to")

    def _settle(self, child: subprocess.Popen, status: str, message: str) -> None:
        """Close the run of a crawl process that ended without closing it itself."""
        with Archive(self.config.archive) as archive:
            row = archive.conn.execute(
                "SELECT max(id) FROM crawl_runs WHERE pid = ? AND status = 'running'", (child.pid,)
            ).fetchone()
            if row[0] is not None:
                archive.finish_run(row[0], status, message)

    def _run_row(self, outlet_id: str, child: subprocess.Popen, after_id: int) -> dict | None:
        with Archive(self.config.archive) as archive:
            rows = list(archive.db.query(
                "SELECT * FROM crawl_runs WHERE id > ? AND outlet_id = ? AND pid = ? ORDER BY id DESC LIMIT 1",
                [after_id, outlet_id, child.pid],
            ))
        return rows[0] if rows else None


# -- the foreground scheduler -------------------------------------------------------------

# The running service, for the job function (jobs hold only an outlet id).
_service: SchedulerService | None = None


def scheduled_run(outlet_id: str, deep_days: int | None = None) -> None:
    """The job function: one scheduled run of one outlet (its deep crawl with `deep_days`)."""
    if _service is not None:
        _service.run_scheduled(outlet_id, deep_days)


class SchedulerService:
    def __init__(self, config: ScheduleConfig):
        self.config = config
        self.runner = CrawlRunner(config)
        self._stop = threading.Event()
        self._reload = threading.Event()

    def load(self) -> Registry:
        registry = load_registry(self.config.registry_path, strict=False)
        for problem in registry.problems:
            logger.error("%s; this outlet is not scheduled until it is fixed", problem)
        return registry

    def run(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the registry. LockHeld if one already runs."""
        global _service
        lock = SchedulerLock(self.config.jobs_path).acquire()
        try:
            with Archive(self.config.archive) as archive:
                archive.mark_abandoned_runs()
            scheduler = open_scheduler(self.config)
            try:
                scheduler.start(paused=True)
            except SQLAlchemyError as exc:
                raise JobStoreError(f"cannot open job store {self.config.jobs_path}: {exc.orig or exc}") from None
            sync_jobs(scheduler, self.load())
            _service = self
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self._stop.set())
            signal.signal(signal.SIGHUP, lambda *_: self._reload.set())
            scheduler.resume()
            logger.info("scheduler started: %d outlets, %d paused; jobs in %s", len(scheduler.get_jobs()),
                        len(paused_outlets(self.config)), self.config.jobs_path)
            while not self._stop.wait(0.5):
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload(scheduler)
            logger.info("stopping: asking running crawls to finish")
            scheduler.pause()
            self.runner.stop_all()
            scheduler.shutdown(wait=True)
            with Archive(self.config.archive) as archive:
                archive.mark_abandoned_runs()
            logger.info("scheduler stopped")
        finally:
            _service = None
            lock.release()

    def reload(self, scheduler: BackgroundScheduler) -> None:
        logger.info("reloading the outlet registry")
        try:
            registry = self.load()
        except ConfigError as exc:  # the whole file is unreadable: keep the schedules we have
            logger.error("%s; keeping the current schedules", exc)
            return
        sync_jobs(scheduler, registry)

    def run_scheduled(self, outlet_id: str, deep_days: int | None = None) -> None:
        paused = paused_outlets(self.config)
        if outlet_id in paused:
            logger.info("%s: paused since %s; skipping this run", outlet_id, paused[outlet_id])
            return
        outcome = self.runner.run(outlet_id, deep_days)
        if outcome is not None:
            level = logging.INFO if outcome.run and outcome.run["status"] == "ok" else logging.WARNING
            logger.log(level, "%s", outcome.summary())


# -- inspection ---------------------------------------------------------------------------


def scheduler_pid(config: ScheduleConfig) -> str | None:
    """The pid of the scheduler running on these jobs, None if there is none (read only)."""
    return SchedulerLock(config.jobs_path).holder()


def schedule_table(config: ScheduleConfig, registry: Registry, now: datetime | None = None) -> list[dict]:
    """Every job (each outlet, and its deep crawl) with its schedule, next run, pause state
    and last run; read only.

    The next run is the job store's once a scheduler has applied the outlet's schedule;
    before that (no scheduler has started, or the registry changed since) it is computed
    from the cron expression, and `next_run_computed` says so.
    """
    now = now or datetime.now(timezone.utc)
    jobs = read_jobs(config)
    paused = paused_outlets(config)
    last_runs = {}
    if config.archive.exists():
        with Archive(config.archive, readonly=True) as archive:
            # An archive that a starting scheduler or crawl has only just created has no tables yet.
            latest = archive.db.query(
                "SELECT outlet_id, mode, status, started FROM crawl_runs"
                " WHERE id IN (SELECT max(id) FROM crawl_runs GROUP BY outlet_id, mode = 'backfill')"
            ) if archive.db["crawl_runs"].exists() else []
            for row in latest:
                key = row["outlet_id"] + (DEEP_SUFFIX if row["mode"] == "backfill" else "")
                last_runs[key] = row
    table = []
    for spec in job_specs(registry):
        outlet_id = spec.kwargs["outlet_id"]
        job = jobs.get(spec.id)
        last = last_runs.get(spec.id)
        # Jobs are made or changed when a scheduler starts or reloads the registry.
        applied = job is not None and job.name == spec.name
        next_run = job.next_run_time if applied else cron_trigger(spec.schedule).get_next_fire_time(None, now)
        table.append({
            "outlet": spec.id,
            "schedule": spec.schedule,
            "paused": outlet_id in paused,
            "applied": applied,
            "next_run": next_run.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
            if next_run and outlet_id not in paused else None,
            "next_run_computed": not applied,
            "last_status": last["status"] if last else None,
            "last_started": last["started"] if last else None,
        })
    return table


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
