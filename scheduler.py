"""Scheduled crawls: one APScheduler job per outlet, each run a separate crawl process.

Jobs live in their own SQLite job store (`<archive>.jobs.sqlite` unless told otherwise), so a
restart keeps each outlet's pause state and knows when it last ran: runs missed while the
scheduler was down coalesce into one, and a job never has two runs at once. The crawl itself
runs as `python -m scraper.cli crawl OUTLET` in a child process (Twisted's reactor cannot be
restarted), with a time limit; the crawl holds the outlet's lock, so a manual `mediawatch run`
of the same outlet cannot overlap a scheduled one either.

SIGTERM/SIGINT stop the scheduler: running crawls get SIGTERM (Scrapy finishes cleanly and
marks its run interrupted), and are killed if they have not ended after a grace period.
SIGHUP re-reads the registry and applies changed schedules.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from archive.store import Archive
from scraper.config import Registry, load_registry
from scraper.schedules import cron_trigger

logger = logging.getLogger("mediawatch.scheduler")

# Runs missed while the scheduler was down (or busy) still happen, once, within this window.
MISFIRE_GRACE_SECONDS = 6 * 3600
# How often the scheduler re-reads its job store, so pause/resume done by another process
# (`mediawatch pause`) takes effect without a restart.
REFRESH_SECONDS = 5


@dataclass(frozen=True)
class ScheduleConfig:
    archive: Path
    registry_path: Path | None = None
    jobs: Path | None = None
    logs: Path | None = None
    time_limit: int = 3600
    # How long a crawl asked to stop (SIGTERM) gets before it is killed.
    stop_grace: int = 30

    @property
    def jobs_path(self) -> Path:
        return self.jobs or Path(f"{self.archive}.jobs.sqlite")

    @property
    def logs_path(self) -> Path:
        return self.logs or self.archive.parent / "logs"


def open_scheduler(config: ScheduleConfig) -> BackgroundScheduler:
    """A scheduler over the persistent job store (not started)."""
    config.jobs_path.parent.mkdir(parents=True, exist_ok=True)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{config.jobs_path}")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone="UTC",
    )


def sync_jobs(scheduler: BackgroundScheduler, registry: Registry, config: ScheduleConfig) -> None:
    """Make the job store hold one job per registry outlet, with its current schedule.

    A paused job stays paused; a job whose schedule is unchanged keeps its next run time;
    jobs of outlets removed from the registry are removed.
    """
    for outlet in registry.outlets.values():
        job = scheduler.get_job(outlet.id)
        kwargs = {"outlet_id": outlet.id, "config": job_arguments(config)}
        if job is not None and job.name == outlet.schedule and job.kwargs == kwargs:
            continue
        paused = job is not None and job.next_run_time is None
        scheduler.add_job(run_outlet, cron_trigger(outlet.schedule), id=outlet.id, name=outlet.schedule,
                          kwargs=kwargs, replace_existing=True)
        if paused:
            scheduler.pause_job(outlet.id)
    for job in scheduler.get_jobs():
        if job.id not in registry.outlets and not job.id.startswith("_"):
            scheduler.remove_job(job.id)


def job_arguments(config: ScheduleConfig) -> dict:
    """What a run needs to know, as plain values: job arguments are pickled into the job store."""
    return {
        "archive": str(config.archive),
        "registry_path": str(config.registry_path) if config.registry_path else None,
        "jobs": str(config.jobs_path),
        "logs": str(config.logs_path),
        "time_limit": config.time_limit,
        "stop_grace": config.stop_grace,
    }


# -- one run ------------------------------------------------------------------------------

_running: dict[str, subprocess.Popen] = {}
_running_lock = threading.Lock()


def run_outlet(outlet_id: str, config: dict) -> int:
    """Crawl one outlet in a child process and wait for it (the job function)."""
    archive = Path(config["archive"])
    log_dir = Path(config["logs"]) / outlet_id
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.log"
    command = [sys.executable, "-m", "scraper.cli"]
    if config.get("registry_path"):
        command += ["--outlets", config["registry_path"]]
    command += ["--db", str(archive), "crawl", outlet_id, "--time-limit", str(config["time_limit"]),
                "--log-file", str(log_file)]
    logger.info("starting crawl of %s (log: %s)", outlet_id, log_file)
    with open(log_file, "a", encoding="utf-8") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    with _running_lock:
        _running[outlet_id] = child
    try:
        # The crawl stops itself at its time limit; this is the backstop for a hung process.
        code = child.wait(timeout=config["time_limit"] + config["stop_grace"] + 60)
    except subprocess.TimeoutExpired:
        child.kill()
        code = child.wait()
        _mark_last_run(archive, outlet_id, "timed out", "killed: the crawl overran its time limit")
    finally:
        with _running_lock:
            _running.pop(outlet_id, None)
    logger.info("crawl of %s ended with exit code %s", outlet_id, code)
    return code


def _mark_last_run(archive: Path, outlet_id: str, status: str, message: str) -> None:
    with Archive(archive) as store:
        row = store.conn.execute(
            "SELECT id FROM crawl_runs WHERE outlet_id = ? AND status = 'running' ORDER BY id DESC LIMIT 1",
            (outlet_id,),
        ).fetchone()
        if row:
            store.finish_run(row[0], status, message)


def stop_running_crawls(grace: int) -> None:
    """Ask every running crawl to finish (SIGTERM), kill those still running after `grace`."""
    with _running_lock:
        children = dict(_running)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for outlet_id, child in children.items():
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("crawl of %s did not stop within %ss; killing it", outlet_id, grace)
            child.kill()
            child.wait()


# -- the foreground scheduler -----------------------------------------------------------------


@dataclass
class SchedulerService:
    config: ScheduleConfig
    scheduler: BackgroundScheduler = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reload: threading.Event = field(default_factory=threading.Event)

    def load(self) -> Registry:
        registry = load_registry(self.config.registry_path, strict=False)
        for problem in registry.problems:
            logger.error("%s; this outlet is not scheduled until it is fixed", problem)
        return registry

    def run(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads the registry."""
        with Archive(self.config.archive) as archive:
            archive.mark_abandoned_runs()
        self.scheduler = open_scheduler(self.config)
        self.scheduler.start(paused=True)
        sync_jobs(self.scheduler, self.load(), self.config)
        self._add_refresh_job()
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self._reload.set())
        self.scheduler.resume()
        logger.info("scheduler started with %d outlets; jobs in %s", len(self.scheduler.get_jobs()) - 1,
                    self.config.jobs_path)
        while not self._stop.wait(0.5):
            if self._reload.is_set():
                self._reload.clear()
                logger.info("reloading the outlet registry")
                sync_jobs(self.scheduler, self.load(), self.config)
        logger.info("stopping: asking running crawls to finish")
        self.scheduler.pause()
        stop_running_crawls(self.config.stop_grace)
        self.scheduler.shutdown(wait=True)
        with Archive(self.config.archive) as archive:
            archive.mark_abandoned_runs()
        logger.info("scheduler stopped")

    def _add_refresh_job(self) -> None:
        """Not persisted: keeps the scheduler looking at the job store (see REFRESH_SECONDS)."""
        from apscheduler.jobstores.memory import MemoryJobStore

        self.scheduler.add_jobstore(MemoryJobStore(), "memory")
        self.scheduler.add_job(_refresh, "interval", seconds=REFRESH_SECONDS, id="_refresh",
                               jobstore="memory", replace_existing=True)


def _refresh() -> None:
    """Does nothing: its only purpose is to wake the scheduler up regularly."""


# -- inspection and control without a running scheduler ---------------------------------------


def _with_jobs(config: ScheduleConfig, registry: Registry | None = None):
    scheduler = open_scheduler(config)
    scheduler.start(paused=True)
    if registry is not None:
        sync_jobs(scheduler, registry, config)
    return scheduler


def set_paused(config: ScheduleConfig, registry: Registry, outlet_id: str, paused: bool) -> None:
    """Pause or resume an outlet's job; persists, and a running scheduler honours it."""
    registry.select([outlet_id])
    scheduler = _with_jobs(config, registry)
    try:
        (scheduler.pause_job if paused else scheduler.resume_job)(outlet_id)
    except JobLookupError:
        raise KeyError(outlet_id) from None
    finally:
        scheduler.shutdown(wait=False)


def schedule_table(config: ScheduleConfig, registry: Registry) -> list[dict]:
    """Every outlet with its schedule, next run, pause state and last run."""
    scheduler = _with_jobs(config, registry)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    last_runs = {}
    if config.archive.exists():
        with Archive(config.archive) as archive:
            for row in archive.db.query(
                "SELECT outlet_id, status, started, articles_new, errors FROM crawl_runs"
                " WHERE id IN (SELECT max(id) FROM crawl_runs GROUP BY outlet_id)"
            ):
                last_runs[row["outlet_id"]] = row
    table = []
    for outlet in registry.outlets.values():
        job = jobs.get(outlet.id)
        last = last_runs.get(outlet.id)
        table.append({
            "outlet": outlet.id,
            "schedule": outlet.schedule,
            "paused": job is not None and job.next_run_time is None,
            "next_run": job.next_run_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
            if job is not None and job.next_run_time else None,
            "last_status": last["status"] if last else None,
            "last_started": last["started"] if last else None,
        })
    return table


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
