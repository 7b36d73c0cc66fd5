"""Where an archive's companion files live: one folder beside it, named after it.

    demo.db                     the archive (and SQLite's demo.db-wal, demo.db-shm while open)
    demo.db.d/jobs.sqlite       the scheduler's job store and the pause state
    demo.db.d/jobs.sqlite.lock  held by the scheduler running on that job store
    demo.db.d/locks/OUTLET.lock held by the crawl of that outlet
    demo.db.d/logs/OUTLET/*.log logs of scheduled crawls and of `mediawatch run`

Only commands that change something create the folder (a crawl, the scheduler, `pause`,
`resume`, `run`); the ones that only look never do. `--jobs` and `--logs` put the job store
and the logs elsewhere.

Archives made before the folder existed kept their job store in `<archive>.jobs.sqlite`, their
locks in `<archive>.locks/` and their logs in `logs/` beside the archive. The job store is the
only one of those with state (next run times, pauses): it keeps being found and used where it
is until the new one exists (move it into the folder, with the scheduler stopped, to finish
the move). Locks and logs need no finding: a lock lasts as long as its process, and each run
records the path of its log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Companions:
    archive: Path

    @property
    def folder(self) -> Path:
        return Path(f"{self.archive}.d")

    @property
    def jobs(self) -> Path:
        """The job store: in the folder, or where an older version left it."""
        current, legacy = self.folder / "jobs.sqlite", Path(f"{self.archive}.jobs.sqlite")
        return legacy if legacy.exists() and not current.exists() else current

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    def outlet_lock(self, outlet_id: str) -> Path:
        return self.folder / "locks" / f"{outlet_id}.lock"

