"""Three crawl hosts, Redis, the writer and a mirror of news sites, all on this machine.

What tests/test_scale_out.py and bench/scale_out.py run against, started the way an operator
starts a cluster (docs/scale-out.md), only on one machine:

- each crawl host is a real Scrapyd (its scrapyd.conf written by `mediawatch cluster
  scrapyd-conf`) and a real `mediawatch publisher`, with a private directory (Scrapyd's eggs,
  logs and queue, the spool, HOME) and, where the machine allows it (root, `ip netns`), its
  own network namespace: its own loopback, reaching nothing of this machine's network but a
  bridge to the mirror on its loopback's same port, and Redis and Scrapyd's API through unix
  sockets in its directory. Elsewhere the hosts are separate Scrapyd instances sharing the
  loopback; `rig.isolation` says which;
- Redis (Debian's redis-server) listens on a unix socket only, with an append-only file so a
  stopped Redis comes back with its data;
- the writer is `mediawatch writer` on the central archive;
- the mirror serves N outlets, each its own site ``<outlet>.cluster.test`` with a feed of
  article URLs ``/a/<n>.html`` answered by real bundled pages, and counts every request.

Nothing leaves the machine: every address is a loopback one or a socket file.
"""

from __future__ import annotations

import ctypes
import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scraper.demo.mirror import MirrorConfig, MirrorHandler, MirrorServer  # noqa: E402

DEMO_SITE = REPO / "scraper" / "demo" / "data" / "site"
DOMAIN = "cluster.test"


class RigUnavailable(RuntimeError):
    """A part the rig needs (redis-server, Scrapyd) cannot run here; the message says which."""


def demo_pages() -> list[bytes]:
    """The bundled demo's real article pages (HTML), in a stable order."""
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(DEMO_SITE.rglob("index.html.gz"))]
    return [page for page in pages if b"<html" in page[:5000].lower()]


# -- the sites -------------------------------------------------------------------------------


@dataclass
class Sites:
    """N outlets' sites: a feed listing `articles[outlet]` URLs, each a real page."""

    pages: list[bytes]
    articles: dict[str, int]
    # Seconds each article response of an outlet takes (to keep a crawl running for a while).
    delay: dict[str, float] = field(default_factory=dict)

    def host(self, outlet_id: str) -> str:
        return f"{outlet_id}.{DOMAIN}"

    def registry(self, path: Path, concurrency: int = 2) -> Path:
        # The hosts reach the sites through the rig's HTTP proxy on 127.0.0.1 (in each namespace).
        lines = ['user_agent: "mediawatch-rig/0.1 (+https://example.org/contact)"', "allow_private_addresses: true",
                 "outlets:"]
        for outlet_id in self.articles:
            host = self.host(outlet_id)
            lines += [
                f"  - id: {outlet_id}",
                f"    name: {outlet_id.upper()} News",
                f"    homepage: http://{host}/",
                "    languages: [en]",
                "    article_patterns: ['^/a/\\d+\\.html$']",
                "    article_id: '/a/(\\d+)\\.html$'",
                f"    sources: [{{kind: feed, url: 'http://{host}/feed.xml'}}]",
                f"    politeness: {{concurrency: {concurrency}, delay: 0, obey_robots: false}}",
            ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def page_of(self, outlet_id: str, n: int) -> bytes:
        return self.pages[(sum(map(ord, outlet_id)) * 7 + n) % len(self.pages)]

    def document(self, host: str, path: str) -> tuple[bytes, str] | None:
        outlet_id = host.removesuffix(f".{DOMAIN}")
        if outlet_id not in self.articles:
            return None
        if path == "/feed.xml":
            items = "".join(f"<item><title>Story {n}</title><link>http://{host}/a/{n}.html</link></item>"
                            for n in range(self.articles[outlet_id]))
            feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{outlet_id}</title>{items}</channel></rss>'
            return feed.encode(), "application/rss+xml; charset=utf-8"
        if match := re.fullmatch(r"/a/(\d+)\.html", path):
            if int(match[1]) < self.articles[outlet_id]:
                if self.delay.get(outlet_id):
                    time.sleep(self.delay[outlet_id])
                return self.page_of(outlet_id, int(match[1])), "text/html; charset=utf-8"
        return None


class _SiteHandler(MirrorHandler):
    def serve_file(self, host: str, path: str) -> None:
        self.server.record(host, path)
        found = self.server.sites.document(host, path.split("?")[0])
        if found is None:
            self.send_body(404, b"<html><body>Not found</body></html>", "text/html; charset=utf-8")
        else:
            try:
                self.send_body(200, *found)
            except OSError:  # the crawler went away (a host killed mid-request)
                self.close_connection = True


class SiteServer(MirrorServer):
    def __init__(self, sites: Sites):
        self.sites = sites
        super().__init__(MirrorConfig(root=REPO / "nonexistent"))
        self.RequestHandlerClass = _SiteHandler

    def article_hits(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return {k: v for k, v in self.hits.items() if len(k) == 2 and k[1].startswith("/a/")}


# -- network namespaces ----------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000


def netns_available() -> tuple[bool, str]:
    """(True, '') if this process can make network namespaces, else (False, why not)."""
    if os.geteuid() != 0:
        return False, "not root"
    if shutil.which("ip") is None:
        return False, "no `ip` command"
    name = f"mwcheck{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        return False, f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return True, ""


def _in_netns(name: str, make):
    """Run `make()` in a thread that entered network namespace `name`; its sockets stay there."""
    result: dict = {}

    def enter():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {name}")
            finally:
                os.close(fd)
            result["value"] = make()
        except BaseException as exc:  # handed to the caller
            result["error"] = exc

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


class Bridge:
    """Connections to 127.0.0.1:port inside a namespace, carried to 127.0.0.1:port here."""

    def __init__(self, netns: str, port: int):
        self.port = port

        def listen():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            return sock

        self.listener = _in_netns(netns, listen)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                inside, _ = self.listener.accept()
            except OSError:
                return
            try:
                outside = socket.create_connection(("127.0.0.1", self.port))
            except OSError:
                inside.close()
                continue
            for a, b in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((target, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


# -- the rig ---------------------------------------------------------------------------------


def _env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


@dataclass
class Host:
    name: str
    dir: Path
    netns: str | None = None
    scrapyd: subprocess.Popen | None = None
    publisher: subprocess.Popen | None = None
    bridge: Bridge | None = None
    # The registry file this host reads, when not the rig's (see write_cluster_file).
    registry: Path | None = None

    @property
    def socket(self) -> Path:
        return self.dir / "scrapyd.sock"

    @property
    def spool(self) -> Path:
        return self.dir / "spool.db"


class ClusterRig:
    def __init__(self, root: Path, sites: Sites, *, hosts: int = 3, netns: bool = True, lease_seconds: int = 10,
                 extract_workers: int = 1, max_proc: int = 4, pins: dict | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.sites = sites
        self.lease_seconds = lease_seconds
        self.extract_workers = extract_workers
        self.max_proc = max_proc
        self.pins = dict(pins or {})
        self.central = self.root / "central.db"
        self.registry = sites.registry(self.root / "outlets.yml")
        self.cluster_file = self.root / "cluster.yml"
        self.redis_socket = self.root / "redis" / "redis.sock"
        self.redis_process: subprocess.Popen | None = None
        self.writer_process: subprocess.Popen | None = None
        self.mirror: SiteServer | None = None
        self.hosts = {f"h{i}": Host(f"h{i}", self.root / f"h{i}") for i in range(1, hosts + 1)}
        usable, why = netns_available() if netns else (False, "not asked for")
        self.isolation = ("each host in its own network namespace with a private directory" if usable else
                          f"separate Scrapyd instances with private directories, sharing the loopback ({why})")
        self._netns = usable
        self._tag = f"mw{os.getpid() % 100000}"

    # -- setup -------------------------------------------------------------------------------

    @staticmethod
    def check_parts() -> None:
        if shutil.which("redis-server") is None:
            raise RigUnavailable("redis-server is not installed (Debian package redis-server)")
        try:
            import redis  # noqa: F401
            import scrapyd  # noqa: F401
        except ImportError as exc:
            raise RigUnavailable(f"{exc.name} is not installed (pip install 'mediawatch[cluster]')") from None

    def start(self) -> "ClusterRig":
        self.check_parts()
        self.root.mkdir(parents=True, exist_ok=True)
        self.start_redis()
        self.mirror = SiteServer(self.sites).start()
        self.write_cluster_file()
        for host in self.hosts.values():
            host.dir.mkdir(parents=True, exist_ok=True)
            if self._netns:
                host.netns = f"{self._tag}{host.name}"
                subprocess.run(["ip", "netns", "add", host.netns], check=True, capture_output=True)
                subprocess.run(["ip", "netns", "exec", host.netns, "ip", "link", "set", "lo", "up"], check=True)
                host.bridge = Bridge(host.netns, self.mirror.server_address[1])
            conf = self.mediawatch(["cluster", "scrapyd-conf", host.name, "--dir", str(host.dir / "scrapyd"),
                                    "--poll-interval", "0.2", "--max-proc", str(self.max_proc)])
            (host.dir / "scrapyd.conf").write_text(conf.stdout, encoding="utf-8")
            self.start_host(host.name)
        self.start_writer()
        deployed = self.mediawatch(["deploy"], check=False)
        if deployed.returncode != 0:
            raise RuntimeError(f"mediawatch deploy failed:\n{deployed.stdout}\n{deployed.stderr}")
        return self

    def write_cluster_file(self) -> None:
        lines = [f"redis: unix://{self.redis_socket}", "defaults:", f"  registry: {self.registry}",
                 f"  extract_workers: {self.extract_workers}", f"lease_seconds: {self.lease_seconds}",
                 "stream_retain: 1000000", "poll_seconds: 0.5", "settle_seconds: 60", "hosts:"]
        for host in self.hosts.values():
            lines += [f"  {host.name}:", f"    url: http://{host.name}:6800", f"    socket: {host.socket}",
                      f"    spool: {host.spool}"]
            if host.registry:
                lines.append(f"    registry: {host.registry}")
        if self.pins:
            lines.append("pins:")
            lines += [f"  {outlet}: {host}" for outlet, host in self.pins.items()]
        self.cluster_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def pin(self, outlet_id: str, host: str) -> None:
        self.pins[outlet_id] = host
        self.write_cluster_file()

    def _host_command(self, host: Host, command: list[str]) -> list[str]:
        return ["ip", "netns", "exec", host.netns, *command] if host.netns else command

    def start_host(self, name: str) -> None:
        """Start (or restart) the host's Scrapyd and publisher."""
        host = self.hosts[name]
        env = _env({"HOME": str(host.dir), "TMPDIR": str(host.dir), **self.mirror.proxy_env()})
        with open(host.dir / "scrapyd.out", "ab") as out:
            host.scrapyd = subprocess.Popen(self._host_command(host, [sys.executable, "-m", "scrapyd"]), cwd=host.dir,
                                            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        with open(host.dir / "publisher.out", "ab") as out:
            host.publisher = subprocess.Popen(
                self._host_command(host, [sys.executable, "-m", "scraper.cli", "--cluster", str(self.cluster_file),
                                          "publisher", "--host", name]),
                cwd=host.dir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(lambda: host.socket.exists() and self._scrapyd_up(host), 30, f"Scrapyd of {name} to answer",
                  lambda: (host.dir / "scrapyd.out").read_text(errors="replace")[-2000:])

    def _scrapyd_up(self, host: Host) -> bool:
        import httpx

        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(host.socket)), base_url="http://h") as client:
                return client.get("/daemonstatus.json", timeout=2).json().get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            return False

    def kill_host(self, name: str) -> None:
        """kill -9 everything the host runs: Scrapyd, its crawls and their workers, the publisher."""
        host = self.hosts[name]
        pids = set()
        if host.netns:
            listed = subprocess.run(["ip", "netns", "pids", host.netns], capture_output=True, text=True)
            pids = {int(p) for p in listed.stdout.split()}
        for process in (host.scrapyd, host.publisher):
            if process is not None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in (host.scrapyd, host.publisher):
            if process is not None:
                process.wait()
        if host.socket.exists():
            host.socket.unlink()  # a killed Scrapyd leaves its socket file behind

    def start_redis(self) -> None:
        self.redis_socket.parent.mkdir(parents=True, exist_ok=True)
        with open(self.redis_socket.parent / "redis.out", "ab") as out:
            self.redis_process = subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", str(self.redis_socket), "--unixsocketperm", "700",
                 "--dir", str(self.redis_socket.parent), "--appendonly", "yes", "--appendfsync", "always",
                 "--save", ""], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        import redis

        def answers():
            try:
                return redis.Redis(unix_socket_path=str(self.redis_socket)).ping()
            except redis.RedisError:
                return False

        _wait_for(answers, 20, "redis-server to answer")

    def stop_redis(self) -> None:
        """Stop Redis as a service manager would (SIGTERM: it writes its append-only file)."""
        self.redis_process.terminate()
        self.redis_process.wait(timeout=30)

    def wipe_redis(self) -> None:
        """Stop Redis and start it with nothing: its append-only file and snapshot deleted."""
        self.stop_redis()
        for path in self.redis_socket.parent.iterdir():
            if path.name not in ("redis.out",):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start_redis()

    def start_writer(self) -> None:
        with open(self.root / "writer.out", "ab") as out:
            self.writer_process = subprocess.Popen(
                [sys.executable, "-m", "scraper.cli", "--db", str(self.central), "--cluster", str(self.cluster_file),
                 "writer"], cwd=self.root, env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop_writer(self) -> None:
        if self.writer_process is not None and self.writer_process.poll() is None:
            self.writer_process.terminate()
            self.writer_process.wait(timeout=60)

    def stop(self) -> None:
        for host in self.hosts.values():
            self.kill_host(host.name)
            if host.bridge:
                host.bridge.close()
            if host.netns:
                subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)
        self.stop_writer()
        if self.redis_process is not None and self.redis_process.poll() is None:
            self.redis_process.kill()
            self.redis_process.wait()
        if self.mirror is not None:
            self.mirror.stop()

    def __enter__(self) -> "ClusterRig":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- driving it --------------------------------------------------------------------------

    def mediawatch(self, args: list[str], check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "scraper.cli", "--db", str(self.central), "--outlets",
                                 str(self.registry), "--cluster", str(self.cluster_file), *args],
                                env=_env(), capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"mediawatch {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def runner(self, time_limit: int = 300, stop_grace: int = 10):
        from scraper.cluster.controller import ScrapydRunner
        from scheduler import ScheduleConfig
        from scraper.cluster.config import load_cluster

        return ScrapydRunner(ScheduleConfig(archive=self.central, registry_path=self.registry,
                                            time_limit=time_limit, stop_grace=stop_grace),
                             load_cluster(self.cluster_file))

    def placement(self) -> dict[str, str]:
        from scraper.cluster.config import load_cluster

        return load_cluster(self.cluster_file).placement(list(self.sites.articles))

    def run_outlets(self, outlet_ids, runner=None) -> dict:
        """Run these outlets' crawls on their hosts at once; outlet -> JobOutcome."""
        runner = runner or self.runner()
        outcomes: dict = {}

        def one(outlet_id):
            outcomes[outlet_id] = runner.run(outlet_id)

        threads = [threading.Thread(target=one, args=(o,)) for o in outlet_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    def redis(self):
        import redis

        return redis.Redis(unix_socket_path=str(self.redis_socket))

    def wait_caught_up(self, timeout: float = 120) -> None:
        """Until the writer has applied everything every host has stored."""
        from scraper.cluster import bus

        def caught_up():
            try:
                client = self.redis()
                spooled, applied = bus.hash_ints(client, bus.SPOOLED), bus.hash_ints(client, bus.APPLIED)
            except Exception:
                return False
            for host in self.hosts.values():
                if not host.spool.exists():
                    continue
                import sqlite3

                with sqlite3.connect(host.spool) as spool:
                    last = spool.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
                if last and applied.get(host.name, 0) < last:
                    return False
                if spooled.get(host.name, 0) < last:
                    return False
            return True

        _wait_for(caught_up, timeout, "the writer to apply every host's spool")


def _wait_for(condition, timeout: float, what: str, detail=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}" + (f":\n{detail()}" if detail else ""))
