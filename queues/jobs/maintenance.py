"""Housekeeping that runs on a schedule."""

from typing import Any

from rq.registry import clean_registries

from queues import names
from queues.connection import get_queue, redis_connection
from queues.runtime import app_context


def ping(token: str) -> str:
    """A no-op that proves a worker runs jobs end to end; returns its argument."""
    return token


def record_ping(key: str, value: str) -> None:
    """Set ``key`` in Redis to ``value``: an observable job for tests and health probes."""
    with app_context():
        redis_connection().set(key, value, ex=600)


def housekeeping() -> dict[str, Any]:
    """Trim finished/failed registries of every queue (RQ leaves them to grow)."""
    with app_context():
        for name in names.ALL:
            clean_registries(get_queue(name))
        return {"queues": len(names.ALL)}
