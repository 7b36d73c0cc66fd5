"""`mediawatch deploy`: register the installed mediawatch with each crawl host's Scrapyd.

The code reaches a crawl host as the mediawatch wheel, installed there with its dependencies
(`pip install 'mediawatch[cluster]'`). Scrapyd still wants an egg per project version: it
puts the egg on the crawl's import path and reads the Scrapy settings module from its entry
point. Scrapyd *appends* the egg to sys.path, after site-packages (checked with Scrapyd 1.6:
an egg's copy of a module the wheel also installs is never imported), so an egg holding the
code would run the wheel's code anyway. The egg built here is therefore thin: one module,
`mediawatch_deployment`, that checks the installed code is the code deployed (a fingerprint of
its sources) and then is the settings module of scraper/cluster/scrapy_settings.py.

So a host whose wheel differs from the controller's refuses the version at deploy time
(Scrapyd runs `scrapy list` with the new egg) and every crawl of a stale version, with a
message saying which; the controller schedules every job with the version it computes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import io
import re
import zipfile
from pathlib import Path

import archive
import scraper
import spiders

MODULE = "mediawatch_deployment"
# The packages a crawl host runs; their sources make the fingerprint.
_PACKAGES = (scraper, spiders, archive)


class DeploymentMismatch(RuntimeError):
    """The mediawatch installed here is not the one deployed."""


def code_fingerprint() -> str:
    """12 hex digits over the sources of the packages a crawl host runs."""
    digest = hashlib.sha256()
    for package in _PACKAGES:
        root = Path(package.__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\x00".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def outlet_fingerprint(registry, outlet) -> str:
    """12 hex digits over an outlet's entry as loaded (and the registry's User-Agent), less
    its schedules (the controller's business, not the crawl's): the controller sends it with
    each job, and a host whose registry file says otherwise of the outlet refuses the job
    rather than crawl it another way."""
    unscheduled = {"schedule": "", "deep_crawl": None}
    if dataclasses.is_dataclass(outlet):
        outlet = dataclasses.replace(outlet, **unscheduled)
    else:  # a pydantic model
        outlet = outlet.model_copy(update=unscheduled)
    return hashlib.sha256(f"{registry.user_agent}\x00{outlet!r}".encode("utf-8")).hexdigest()[:12]


def deploy_version() -> str:
    """The Scrapyd version of the installed code: '<mediawatch version>-<fingerprint>', in
    the characters Scrapyd keeps in egg file names (it replaces others with '_')."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{importlib.metadata.version('mediawatch')}-{code_fingerprint()}")


def require_fingerprint(expected: str) -> None:
    found = code_fingerprint()
    if found != expected:
        raise DeploymentMismatch(
            f"the mediawatch installed on this host (code {found}, version "
            f"{importlib.metadata.version('mediawatch')}) is not the one deployed (code {expected}): install the "
            "controller's wheel here, or deploy from a controller with this host's")


def build_egg(version: str | None = None) -> bytes:
    """The thin egg for `version` (default: this installation's)."""
    version = version or deploy_version()
    fingerprint = version.rsplit("-", 1)[-1]
    module = (
        f'"""Written by `mediawatch deploy` for version {version}: the settings module of the installed\n'
        'mediawatch, once its code is the code deployed."""\n'
        "from scraper.cluster.deploy import require_fingerprint\n\n"
        f"require_fingerprint({fingerprint!r})\n\n"
        "from scraper.cluster.scrapy_settings import *  # noqa: E402,F401,F403\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as egg:
        egg.writestr("EGG-INFO/PKG-INFO", f"Metadata-Version: 1.1\nName: mediawatch-deployment\nVersion: {version}\n")
        egg.writestr("EGG-INFO/entry_points.txt", f"[scrapy]\nsettings = {MODULE}\n")
        egg.writestr("EGG-INFO/top_level.txt", f"{MODULE}\n")
        egg.writestr("EGG-INFO/zip-safe", "\n")
        egg.writestr(f"{MODULE}.py", module)
    return buffer.getvalue()


class DeployResult:
    def __init__(self, host: str, ok: bool, message: str):
        self.host, self.ok, self.message = host, ok, message

    def __str__(self) -> str:
        return f"{self.host}: {'ok' if self.ok else 'FAILED'}: {self.message}"


def deploy(cluster, host_names=None, version: str | None = None) -> list[DeployResult]:
    """Upload the thin egg of this installation to every (or every named) host's Scrapyd and
    check the host can run the crawl with it (Scrapyd lists its spiders with the egg)."""
    from scraper.cluster.scrapyd import Scrapyd, ScrapydError

    version = version or deploy_version()
    egg = build_egg(version)
    results = []
    for name in host_names or list(cluster.hosts):
        host = cluster.host(name)
        with Scrapyd(host, cluster.project) as api:
            try:
                api.add_version(version, egg)
                spiders = api.spiders(version)
            except ScrapydError as exc:
                # Scrapyd keeps an egg even when its crawl cannot load: take it back.
                try:
                    api.delete_version(version)
                except ScrapydError:
                    pass
                results.append(DeployResult(name, False, _last_line(str(exc))))
                continue
            if "outlet" not in spiders:
                results.append(DeployResult(name, False, f"Scrapyd lists {spiders} for version {version}, not 'outlet'"))
            else:
                results.append(DeployResult(name, True, f"project '{cluster.project}' version {version}"))
    return results


def _last_line(message: str) -> str:
    """Scrapyd's error carries the whole traceback of `scrapy list`; its last line says why."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    head = message.split(":", 2)[:2]
    return (": ".join(head) + ": " + lines[-1]) if len(lines) > 1 else message
