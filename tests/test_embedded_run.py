"""``bpo up`` (what ``make run`` calls): serves, stops everything, and reuses its data.

This starts the real thing twice on a fresh instance directory: embedded
PostgreSQL and Redis, gunicorn, one RQ worker per queue and the scheduler.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from queues import names

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        return response.status, response.read().decode()


def _platform_processes(owner: psutil.Process, instance: Path) -> dict[psutil.Process, str]:
    """The owner's descendants plus the PostgreSQL server (which pg_ctl daemonizes), with
    their command lines; short-lived ones (an RQ work horse) may vanish meanwhile."""
    found: dict[psutil.Process, str] = {}
    descendants = set(owner.children(recursive=True))
    for proc in descendants | set(psutil.process_iter()):
        try:
            command = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if proc in descendants or str(instance) in command:
            found[proc] = command
    found.pop(owner, None)
    return found


def _still_running(processes: list[psutil.Process]) -> list[str]:
    left = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())}")
        except psutil.Error:
            continue
    return left


def _run_once(instance: Path, stop_signal: int) -> str:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(BPO_INSTANCE_DIR=str(instance), BPO_ENV="development", PYTHONUNBUFFERED="1")
    log_path = instance.parent / f"up-{stop_signal}.log"
    with log_path.open("wb") as log:
        owner = subprocess.Popen(
            [sys.executable, "-m", "bpo", "up", "--port", str(port), "--web-workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while "Ctrl-C stops everything" not in log_path.read_text(errors="replace"):
                assert owner.poll() is None, log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "bpo up did not start in time"
                time.sleep(0.5)
            status, body = _get(f"http://127.0.0.1:{port}/healthz")
            assert (status, '"ok"' in body) == (200, True)
            status, body = _get(f"http://127.0.0.1:{port}/login")
            assert status == 200 and 'name="csrf_token"' in body
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            assert status == 200

            processes = _platform_processes(psutil.Process(owner.pid), instance)
            commands = list(processes.values())
            assert any("gunicorn" in c for c in commands)
            assert any("redis-server" in c for c in commands)
            assert any("postgres" in c for c in commands)
            assert any("queues scheduler" in c for c in commands)
            for queue in names.ALL:
                assert any(f"queues worker {queue}" in c for c in commands), queue
        finally:
            owner.send_signal(stop_signal)
            code = owner.wait(60)
    output = log_path.read_text(errors="replace")
    assert code == 0, output[-3000:]
    psutil.wait_procs(list(processes), timeout=10)
    assert _still_running(list(processes)) == [], output[-3000:]
    assert not (instance / "embedded.json").exists()
    return output


@pytest.mark.slow
def test_bpo_up_serves_stops_everything_and_reuses_its_data(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    first = _run_once(instance, signal.SIGINT)
    assert "seeded the demo data" in first
    assert "admin@bpo.example" in first  # the demo logins are printed
    assert list(instance.rglob("dump.rdb")), "Redis saved nothing on its way out"

    second = _run_once(instance, signal.SIGTERM)
    assert "seeded the demo data" not in second  # same data, not seeded again
    assert "initdb" not in second
