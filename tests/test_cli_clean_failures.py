"""Commands fail in one clear line and write nothing they should not.

Every command runs as a child process (the real CLI) in a real folder: empty, or holding a
real archive of the demo crawl; writable, or read-only. A read-only folder is a read-only
bind mount of it, made in a mount namespace of the child's own when the tests run as root
(root writes through any chmod), or the folder's write permission taken away otherwise.
After each command the folder's listing must be what it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scraper.demo import DEMO_OUTLETS
from tests.conftest import DEMO_DATA, run_mediawatch

# Runs `$@` in the folder $0, seen through a read-only bind mount that only this process
# tree sees: the mount goes away with it, whatever happens to the test.
READ_ONLY_MOUNT = ('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && cd "$0" && exec "$@"')


def _read_only_wrapper_works(folder: Path) -> str | None:
    """None if a child can be given `folder` read-only here, else why not."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            (folder / "probe").touch()
        except PermissionError:
            return None
        finally:
            folder.chmod(0o755)
        return "the folder stays writable without write permission (this user ignores it)"
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", READ_ONLY_MOUNT, str(folder),
                            "touch", "probe"], capture_output=True, text=True)
    if "Read-only file system" in probe.stderr and not (folder / "probe").exists():
        return None
    return f"cannot make a read-only bind mount here: {probe.stderr.strip() or 'the folder stayed writable'}"


@pytest.fixture(scope="session")
def read_only_support(tmp_path_factory):
    reason = _read_only_wrapper_works(tmp_path_factory.mktemp("probe"))
    if reason:
        pytest.skip(reason)


def mediawatch_in(folder: Path, args: list[str], read_only: bool = False, env: dict | None = None,
                  popen: bool = False, timeout: int = 120):
    """Run `mediawatch ARGS` with `folder` as its working directory, read-only if asked."""
    command = [sys.executable, "-m", "scraper.cli", *args]
    if read_only and os.geteuid() == 0:
        command = ["unshare", "-m", "--propagation", "private", "sh", "-c", READ_ONLY_MOUNT, str(folder), *command]
    env = {**{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}, **(env or {})}
    if popen:
        return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory) -> Path:
    """A real archive of the demo crawl, closed (no -wal/-shm beside it)."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    db = tmp_path_factory.mktemp("demo") / "demo.db"
    mirror = MirrorServer(MirrorConfig(root=DEMO_DATA / "site")).start()
    try:
        run_mediawatch(["--outlets", str(DEMO_OUTLETS), "--db", str(db), "crawl"], mirror=mirror)
    finally:
        mirror.stop()
    return db


@pytest.fixture(params=["writable", "read-only"])
def folder(request, tmp_path):
    """An empty folder, writable or read-only (for the child processes)."""
    path = tmp_path / "work"
    path.mkdir()
    read_only = request.param == "read-only"
    if read_only:
        request.getfixturevalue("read_only_support")
        if os.geteuid() != 0:
            path.chmod(0o555)
    yield path, read_only
    path.chmod(0o755)


@pytest.fixture
def archive_folder(folder, demo_archive):
    """The folder holding a copy of the demo archive (made before it turns read-only)."""
    path, read_only = folder
    path.chmod(0o755)
    shutil.copy(demo_archive, path / "demo.db")
    if read_only and os.geteuid() != 0:
        path.chmod(0o555)
    return path, read_only


def assert_one_line_error(result, *fragments: str) -> str:
    """The command failed with exit code 1 and said why in one line, `Error: ...`."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# -- commands that only look --------------------------------------------------------------

LOOKING = {
    "schedule list": (["schedule", "list"], "(computed)"),
    "outlets": (["outlets"], "globalvoices"),
    "help": (["--help"], "Commands:"),
    "schedule help": (["schedule", "list", "--help"], "Usage: mediawatch schedule list"),
    "resume of an active outlet": (["resume", "globalvoices"], "globalvoices: already active"),
}


@pytest.mark.parametrize("name", LOOKING)
def test_looking_in_an_empty_folder_writes_nothing(folder, name):
    path, read_only = folder
    args, expected = LOOKING[name]
    result = mediawatch_in(path, ["--outlets", str(DEMO_OUTLETS), *args], read_only)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert expected in result.stdout
    assert listing(path) == []


@pytest.mark.parametrize("name", LOOKING)
def test_looking_at_an_archive_writes_nothing(archive_folder, name):
    path, read_only = archive_folder
    args, expected = LOOKING[name]
    result = mediawatch_in(path, ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db", *args], read_only)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert expected in result.stdout
    assert listing(path) == ["demo.db"]


def test_schedule_list_computes_next_runs_from_the_cron_and_reads_last_runs(archive_folder):
    path, read_only = archive_folder
    result = mediawatch_in(path, ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db", "schedule", "list"], read_only)
    assert result.stdout.startswith("scheduler: not running; no job store yet (demo.db.d/jobs.sqlite)"), result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("globalvoices "))
    # The demo registry gives no schedule: the default, every 30 minutes, in UTC.
    next_run = re.search(r"(\d{4}-\d\d-\d\d \d\d:(\d\d):00Z) \(computed\)", row)
    assert next_run and next_run[2] in ("00", "30"), row
    assert re.search(r"ok at \d{4}-\d\d-\d\dT", row), row
    assert "(computed): from the cron expression" in result.stdout


def test_schedule_list_on_an_archive_just_created_by_a_starting_scheduler(tmp_path):
    (tmp_path / "demo.db").touch()  # the file exists; its tables do not yet
    result = mediawatch_in(tmp_path, ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db", "schedule", "list"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^globalvoices .* never$", result.stdout, re.M), result.stdout
    assert listing(tmp_path) == ["demo.db"]


def test_pausing_an_unknown_outlet_says_so_and_creates_no_job_store(folder):
    path, read_only = folder
    result = mediawatch_in(path, ["--outlets", str(DEMO_OUTLETS), "pause", "globalvoice"], read_only)
    assert_one_line_error(result, "unknown outlet 'globalvoice'")
    assert listing(path) == []


def test_a_pause_is_written_to_the_companion_folder_and_listed(tmp_path):
    result = mediawatch_in(tmp_path, ["--outlets", str(DEMO_OUTLETS), "pause", "voanews"])
    assert result.returncode == 0 and result.stdout.strip() == "voanews: paused", result.stderr
    assert listing(tmp_path) == ["mediawatch.db.d", "mediawatch.db.d/jobs.sqlite"]
    listed = mediawatch_in(tmp_path, ["--outlets", str(DEMO_OUTLETS), "schedule", "list"]).stdout
    assert re.search(r"^voanews +\S+ \S+ \S+ \S+ \S+ +paused +- +never$", listed, re.M), listed
    assert listing(tmp_path) == ["mediawatch.db.d", "mediawatch.db.d/jobs.sqlite"]


def test_a_job_store_at_its_old_place_keeps_being_used(tmp_path):
    """Archives from before the companion folder had their job store at <archive>.jobs.sqlite."""
    mediawatch_in(tmp_path, ["--outlets", str(DEMO_OUTLETS), "pause", "voanews", "--jobs", "demo.db.jobs.sqlite"])
    assert listing(tmp_path) == ["demo.db.jobs.sqlite"]
    listed = mediawatch_in(tmp_path, ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db", "schedule", "list"]).stdout
    assert "jobs in demo.db.jobs.sqlite" in listed and re.search(r"^voanews .* paused ", listed, re.M), listed
    resumed = mediawatch_in(tmp_path, ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db", "resume", "voanews"])
    assert resumed.stdout.strip() == "voanews: resumed"
    assert listing(tmp_path) == ["demo.db.jobs.sqlite"]


# -- commands that change something, in a folder they cannot write ------------------------

CHANGING = {
    "schedule": ["schedule"],
    "pause": ["pause", "globalvoices"],
    "run": ["run", "globalvoices"],
}


@pytest.mark.parametrize("folder", ["read-only"], indirect=True)
@pytest.mark.parametrize("name", CHANGING)
def test_changing_commands_in_a_read_only_folder_fail_in_one_line(archive_folder, name):
    path, read_only = archive_folder
    result = mediawatch_in(path, ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db", *CHANGING[name]], read_only)
    expected = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    assert_one_line_error(result, "demo.db.d", expected)
    assert result.stdout == ""
    assert listing(path) == ["demo.db"]


# -- serve ---------------------------------------------------------------------------------


def serve_until_ready(path: Path, args: list[str], read_only: bool) -> tuple[subprocess.Popen, str]:
    """Start `mediawatch serve ARGS` on a free port; return it with the URL it announced."""
    process = mediawatch_in(path, ["serve", *args, "--port", "0"], read_only, popen=True)
    announced = process.stdout.readline()  # printed once Datasette accepts connections
    match = re.match(r"Serving (\S+) at (http://127\.0\.0\.1:\d+/) \(Ctrl\+C to stop\)$", announced.strip())
    if not match:
        process.kill()
        pytest.fail(f"serve did not announce itself: {announced!r} {process.stderr.read()[-3000:]}")
    return process, match[2]


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return stderr


def test_serve_serves_once_it_says_so_and_leaves_the_folder_as_it_was(archive_folder):
    path, read_only = archive_folder
    process, url = serve_until_ready(path, ["demo.db"], read_only)
    try:
        # No waiting, no retrying: "Serving" means serving.
        with urllib.request.urlopen(url + "demo/articles.json?_shape=array&_size=100", timeout=30) as response:
            titles = {row["title"] for row in json.load(response)}
        # Every item of the demo: its articles and its media item.
        assert titles == {item["title"].strip() for item in json.loads((DEMO_DATA / "expected.json").read_text("utf-8"))}
    finally:
        stderr = stop(process)
    assert "Traceback" not in stderr, stderr[-3000:]
    # A read-only folder cannot hold SQLite's -shm file: the archive is read as it is, and said so.
    assert ("served as it is now" in stderr) == read_only, stderr[-3000:]
    assert listing(path) == ["demo.db"]


def test_serve_refuses_a_file_that_is_not_sqlite_in_one_line(folder):
    path, read_only = folder
    path.chmod(0o755)
    (path / "notes.db").write_text("these are notes, not a database\n" * 100, encoding="utf-8")
    (path / "empty.db").touch()
    if read_only and os.geteuid() != 0:
        path.chmod(0o555)
    result = mediawatch_in(path, ["serve", "notes.db"], read_only)
    assert_one_line_error(result, "notes.db is not an SQLite database")
    result = mediawatch_in(path, ["serve", "empty.db"], read_only)
    assert_one_line_error(result, "empty.db is an SQLite database but not a mediawatch archive")
    assert result.stdout == ""
    assert listing(path) == ["empty.db", "notes.db"]


def test_serve_without_an_archive_says_so_before_serving(folder):
    path, read_only = folder
    result = mediawatch_in(path, ["serve"], read_only)
    assert_one_line_error(result, "no archive at mediawatch.db", "mediawatch demo")
    assert "Serving" not in result.stdout
    assert listing(path) == []


def test_serve_on_a_port_in_use_names_the_port_and_the_option(archive_folder):
    path, read_only = archive_folder
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = mediawatch_in(path, ["serve", "demo.db", "--port", str(port)], read_only, timeout=60)
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is in use", "--port")
    assert "Serving" not in result.stdout
    assert time.monotonic() - started < 60
    assert listing(path) == ["demo.db"]


# -- git status after the demo -----------------------------------------------------------------


def test_the_demo_and_the_scheduling_commands_leave_git_status_clean(tmp_path):
    """What the demo, `pause`, `schedule list` and `run` write is all covered by .gitignore."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copy(Path(__file__).resolve().parents[1] / ".gitignore", tmp_path / ".gitignore")
    result = mediawatch_in(tmp_path, ["demo", "--no-serve"], timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    base = ["--outlets", str(DEMO_OUTLETS), "--db", "demo.db"]
    mediawatch_in(tmp_path, [*base, "pause", "voanews"])
    mediawatch_in(tmp_path, [*base, "schedule", "list"])
    mirror = MirrorServer(MirrorConfig(root=DEMO_DATA / "site")).start()
    try:
        run = mediawatch_in(tmp_path, [*base, "run", "globalvoices"], env=mirror.proxy_env(), timeout=300)
    finally:
        mirror.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert "log: demo.db.d/logs/globalvoices/" in run.stdout
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert status == ["?? .gitignore"], status
    written = listing(tmp_path)
    assert "demo.db" in written and any(p.startswith("demo.db.d/locks/") for p in written), written


# -- a robots.txt that cannot be fetched ----------------------------------------------------


def test_a_robots_txt_that_cannot_be_fetched_is_one_line_and_the_crawl_goes_on(tmp_path, mirror_factory):
    from tests import faults
    from tests.test_faults import HOST, build_site, registry

    build_site(tmp_path / "site", ["/a/1.html", "/a/2.html"])
    mirror = mirror_factory(tmp_path / "site", faults=[(re.compile(re.escape(HOST)), re.compile("^/robots.txt$"),
                                                        faults.connection_reset)])
    db = tmp_path / "archive.db"
    result = run_mediawatch(["--outlets", str(registry(tmp_path / "outlets.yml")), "--db", str(db), "crawl"],
                            mirror=mirror, check=False)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    about_robots = [line for line in result.stderr.splitlines() if "robots.txt" in line]
    assert len(about_robots) == 1, result.stderr[-3000:]
    assert re.search(rf"http://{re.escape(HOST)}/robots.txt could not be fetched \(.+\); "
                     rf"crawling {re.escape(HOST)} as if it allowed everything$", about_robots[0]), about_robots
    assert mirror.hits[(HOST, "/robots.txt", "fault")] == 3  # Scrapy's retries still happen
    assert "2 new articles stored" in result.stdout, result.stdout


def test_every_library_error_the_command_line_words_exists():
    """The error path names the library's errors by module (so as not to import them all)."""
    import importlib

    from scraper.cli import LIBRARY_ERRORS

    for module, name in LIBRARY_ERRORS:
        assert issubclass(getattr(importlib.import_module(module), name), Exception), (module, name)
