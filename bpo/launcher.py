"""``bpo up``: one owner process for the whole platform on one machine.

The owner starts the embedded PostgreSQL and Redis (unless ``DATABASE_URL`` and
``REDIS_URL`` are set), publishes their URLs in ``instance/embedded.json``,
migrates and seeds in-process, then starts gunicorn, one RQ worker per queue and
the scheduler as children. Each child runs in its own session (so a terminal's
Ctrl-C reaches only the owner, which stops everything in order) and gets
SIGTERM from the kernel if the owner dies without cleaning up (PDEATHSIG).

On SIGINT or SIGTERM the owner stops the scheduler, the workers and the web
server (their whole process groups, work horses included), then Redis and
PostgreSQL, and removes the state file. A second ``bpo up`` reuses the data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bpo.config import EMBEDDED_STATE_FILE, embedded_state
from bpo.embedded import EmbeddedServers, die_with_parent
from queues import names

log = logging.getLogger("bpo.up")

STOP_GRACE_SECONDS = 15.0
READY_TIMEOUT_SECONDS = 90.0
RESTART_LIMIT = 5


@dataclass
class Child:
    """A supervised child process (and its process group)."""

    name: str
    argv: Sequence[str]
    essential: bool  # if it exits on its own, the platform stops
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            list(self.argv),
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def worker_log_level() -> str:
    return os.environ.get("BPO_WORKER_LOG_LEVEL", "WARNING")


def platform_children(host: str, port: int, web_workers: int) -> list[Child]:
    children = [
        Child(
            "web",
            _python(
                "gunicorn",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--access-logfile",
                "-",
                "--no-control-socket",
                "--graceful-timeout",
                "10",
                "bpo:create_app()",
            ),
            essential=True,
        )
    ]
    children += [
        # Workers log retries and failures only: a line per job would bury the
        # terminal (BPO_WORKER_LOG_LEVEL=INFO brings them back).
        Child(
            f"worker:{queue}",
            _python("bpo", "queues", "worker", queue, "--log-level", worker_log_level()),
            essential=False,
        )
        for queue in names.ALL
    ]
    children.append(Child("scheduler", _python("bpo", "queues", "scheduler"), essential=False))
    return children


def prepare_database(environ: dict[str, str], *, demo: bool) -> None:
    """Migrate the shared schema and every tenant, and seed the demo data once."""
    from bpo import create_app
    from bpo.demo import seed
    from tenants.migrations.runner import migrate_shared, migrate_tenants

    app = create_app(environ)
    engine = app.extensions["bpo"].engine
    try:
        with app.app_context():
            migrate_shared(engine)
            report = migrate_tenants(engine)
            for slug, error in report.failed.items():
                log.error("tenant %s is not migrated: %s", slug, error)
            if demo and seed():
                log.info("seeded the demo data")
    finally:
        engine.dispose()
        app.extensions["bpo"].redis.close()


def wait_until_ready(url: str, children: list[Child], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.essential and c.exited() is not None for c in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own http URL)
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def stop_children(children: list[Child]) -> None:
    """SIGTERM every child's group (scheduler first, web last), then SIGKILL stragglers."""
    for child in reversed(children):
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in reversed(children):
        if child.process is None:
            continue
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", child.name)
    for child in children:
        # Kill whatever is left of each group (an orphaned work horse, a gunicorn worker).
        child.signal_group(signal.SIGKILL)
        if child.process is not None and child.process.poll() is None:
            child.process.wait()


class _Stop:
    """Set by SIGINT/SIGTERM; the main loop notices it."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum


def supervise(
    children: list[Child], env: dict[str, str], stop: _Stop, servers: EmbeddedServers | None = None
) -> int:
    """Restart a crashed worker or scheduler, and the embedded Redis (a few times a
    minute at most); return on stop."""
    redis_restarts: list[float] = []
    while stop.signum is None:
        code = servers.revive_redis() if servers is not None else None
        if code is not None:
            now = time.monotonic()
            redis_restarts = [t for t in redis_restarts if now - t < 60] + [now]
            if len(redis_restarts) > RESTART_LIMIT:
                log.error("redis keeps exiting (last code %s); stopping the platform", code)
                return 1
            log.warning("redis exited with %s; restarted it", code)
        for child in children:
            code = child.exited()
            if code is None:
                continue
            if child.essential:
                log.error("%s exited with %s; stopping the platform", child.name, code)
                return 1
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > RESTART_LIMIT:
                log.error(
                    "%s keeps exiting (last code %s); stopping the platform", child.name, code
                )
                return 1
            log.warning("%s exited with %s; restarting it", child.name, code)
            child.start(env)
        time.sleep(0.5)
    return 0


def run_platform(
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    web_workers: int = 2,
    demo: bool = True,
    echo: Callable[[str], None] = print,
) -> int:
    """Run everything until SIGINT or SIGTERM; returns the process exit code."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # pgserver's platformdirs warns at every start on machines without XDG_RUNTIME_DIR.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    env = dict(os.environ)
    instance = Path(env.get("BPO_INSTANCE_DIR", "instance")).resolve()
    env["BPO_INSTANCE_DIR"] = str(instance)
    state_file = instance / EMBEDDED_STATE_FILE
    external = bool(env.get("DATABASE_URL") and env.get("REDIS_URL"))
    if not external and embedded_state(instance) is not None:
        echo(f"the platform is already running from {instance} (see {state_file})")
        return 1

    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    servers = None if external else EmbeddedServers(instance / "data")
    children: list[Child] = []
    try:
        if servers is not None:
            echo(f"starting PostgreSQL and Redis with their data in {instance / 'data'} …")
            urls = servers.start()
            env.update(urls.as_environ())
            instance.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"pid": os.getpid(), **urls.as_environ()}))
        echo("migrating the shared schema and the tenants …")
        prepare_database(env, demo=demo)
        if stop.signum is not None:
            return 0
        children = platform_children(host, port, web_workers)
        for child in children:
            child.start(env)
        base_url = f"http://{host}:{port}"
        if not wait_until_ready(f"{base_url}/healthz", children, READY_TIMEOUT_SECONDS):
            if stop.signum is not None:
                return 0
            echo(f"the web server did not become ready (is port {port} free?); stopping")
            return 1
        from bpo.demo import login_summary

        echo(f"\nThe BPO platform is running at {base_url}   (Ctrl-C stops everything)\n")
        if demo:
            echo(login_summary(base_url) + "\n")
        return supervise(children, env, stop, servers)
    finally:
        stop_children(children)
        if servers is not None:
            servers.stop()
            state_file.unlink(missing_ok=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        echo("stopped")
