"""The Flask app inside worker processes.

The app (and with it SQLAlchemy, psycopg and every model) is created once in the
worker before it forks, so a job does not pay for imports. A forked work horse
must not reuse the parent's pooled connections, so the pool is replaced on the
first use in a new process, as SQLAlchemy's multiprocessing guidance says.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

from bpo import create_app

_app: Flask | None = None
_pid: int | None = None


def get_app() -> Flask:
    """The process's app: the one already in context, or a new one from the environment."""
    global _app, _pid
    if _app is None:
        _app = current_app._get_current_object() if has_app_context() else create_app()  # type: ignore[attr-defined]
        _pid = os.getpid()
    if _pid != os.getpid():
        state = _app.extensions["bpo"]
        state.engine.dispose(close=False)
        state.redis.connection_pool.reset()
        _pid = os.getpid()
    return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    """Run a job inside the worker's app context (reusing it if already pushed)."""
    app = get_app()
    if has_app_context() and current_app._get_current_object() is app:  # type: ignore[attr-defined]
        yield app
        return
    with app.app_context():
        yield app
