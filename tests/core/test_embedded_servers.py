"""The embedded servers `make run` uses: Redis keeps snapshots, and comes back if it dies."""

import os
import signal
import time
from pathlib import Path

from redis import Redis

from bpo.embedded import EmbeddedServers


def test_redis_snapshots_and_is_revived_on_the_same_socket(tmp_path: Path) -> None:
    servers = EmbeddedServers(tmp_path / "data", cleanup="delete")
    urls = servers.start()
    try:
        redis = Redis.from_url(urls.redis_url)
        assert redis.config_get("save") == {"save": "60 1"}  # snapshots are on
        assert servers.revive_redis() is None  # alive: left alone
        os.kill(servers.redis_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        code = None
        while code is None and time.monotonic() < deadline:
            code = servers.revive_redis()
            time.sleep(0.05)
        assert code == -signal.SIGKILL
        assert Redis.from_url(urls.redis_url).ping()  # the same URL answers again
    finally:
        servers.stop()
