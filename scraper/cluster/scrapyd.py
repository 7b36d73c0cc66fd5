"""A small client of Scrapyd's JSON API (schedule, listjobs, cancel, addversion ...).

How Scrapyd behaves, as read in its source (1.6) and relied on here:

- ``schedule.json`` queues a job; every request argument it does not consume becomes a
  spider argument (``-a``), ``setting=NAME=VALUE`` a setting (``-s``); the job id we pass is
  the job's id, and Scrapyd adds it as ``-a _job=ID``. The poller starts queued jobs every
  ``poll_interval`` seconds, at most ``max_proc`` at once.
- ``listjobs.json`` lists pending, running (with pid and start time) and the last
  ``finished_to_keep`` finished jobs, from memory: a restarted Scrapyd knows none, and a
  finished job carries no exit status. How a run went is the spool's to say (its run row
  reaches the archive through the writer), not Scrapyd's.
- ``cancel.json`` removes a pending job, or sends a running one a signal (INT by default:
  Scrapy stops gracefully; a second INT or KILL forces it).
- ``addversion.json`` stores an egg and answers only after running ``scrapy list`` with it,
  so a host that cannot import the crawl answers with the error; the egg is stored anyway.
- A failure is ``{"status": "error", "message": ...}`` with HTTP 200.
"""

from __future__ import annotations

import re

import httpx

from scraper.cluster.config import CrawlHost


class ScrapydError(RuntimeError):
    """Scrapyd could not be reached or refused; the message names the host."""


class Scrapyd:
    def __init__(self, host: CrawlHost, project: str, timeout: float = 15.0):
        self.host = host
        self.project = project
        transport = httpx.HTTPTransport(uds=host.socket) if host.socket else None
        self.http = httpx.Client(base_url=host.url, transport=transport, auth=host.auth, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Scrapyd":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, endpoint: str, **kwargs) -> dict:
        where = f"host '{self.host.name}' ({self.host.socket or self.host.url})"
        try:
            response = self.http.request(method, f"/{endpoint}", **kwargs)
        except httpx.HTTPError as exc:
            raise ScrapydError(f"{where}: cannot reach Scrapyd: {exc}") from exc
        if response.status_code == 401:
            raise ScrapydError(f"{where}: Scrapyd refused the user name or password (HTTP 401)")
        try:
            data = response.json()
        except ValueError:
            raise ScrapydError(f"{where}: {endpoint} answered HTTP {response.status_code}, not JSON") from None
        if data.get("status") != "ok":
            raise ScrapydError(f"{where}: {endpoint}: {data.get('message') or data}")
        return data

    def daemon_status(self) -> dict:
        return self._call("GET", "daemonstatus.json")

    def schedule(self, spider: str, job_id: str, *, version: str | None = None, settings: dict | None = None,
                 args: dict | None = None) -> str:
        form: dict = {name: str(value) for name, value in (args or {}).items() if value is not None}
        form.update(project=self.project, spider=spider, jobid=job_id)
        if version:
            form["_version"] = version
        form["setting"] = [f"{name}={value}" for name, value in (settings or {}).items()]
        return self._call("POST", "schedule.json", data=form)["jobid"]

    def jobs(self) -> dict:
        """{"pending": [...], "running": [...], "finished": [...]} for our project."""
        return self._call("GET", "listjobs.json", params={"project": self.project})

    def cancel(self, job_id: str, signal: str = "INT") -> str | None:
        """The job's state before ('pending', 'running' or None if Scrapyd does not know it)."""
        return self._call("POST", "cancel.json", data={"project": self.project, "job": job_id,
                                                        "signal": signal}).get("prevstate")

    def add_version(self, version: str, egg: bytes) -> dict:
        return self._call("POST", "addversion.json", data={"project": self.project, "version": version},
                          files={"egg": ("mediawatch.egg", egg)})

    def delete_version(self, version: str) -> None:
        self._call("POST", "delversion.json", data={"project": self.project, "version": version})

    def versions(self) -> list[str]:
        try:
            return self._call("GET", "listversions.json", params={"project": self.project})["versions"]
        except ScrapydError:
            return []

    def spiders(self, version: str | None = None) -> list[str]:
        params = {"project": self.project}
        if version:
            params["_version"] = version
        return self._call("GET", "listspiders.json", params=params)["spiders"]

    def log_tail(self, spider: str, job_id: str, lines: int = 5) -> str:
        """The last lines of a job's log (Scrapyd serves logs_dir), or why there is none."""
        try:
            response = self.http.get(f"/logs/{self.project}/{spider}/{job_id}.log")
        except httpx.HTTPError as exc:
            return f"no log ({exc})"
        if response.status_code != 200:
            return f"no log (HTTP {response.status_code})"
        text = response.text.strip().splitlines()
        # A crawl that could not start ends its log with a traceback: its last line says why.
        for line in reversed(text[-40:]):
            if re.match(r"^[\w.]*(Error|Exception|Held|Busy|Mismatch)\b.*?: ", line):
                return line.split(": ", 1)[1] if line.split(": ", 1)[0].count(".") else line
        return " / ".join(text[-lines:]) or "empty log"
