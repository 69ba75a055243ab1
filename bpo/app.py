"""The application factory. Nothing connects or reads the environment at import time."""

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from sqlalchemy import Engine
from werkzeug.utils import import_string

from bpo.config import load_config
from bpo.core.pool import ping_when_idle
from bpo.core.throttle import LoginThrottle
from bpo.core.uow import Dispatcher, close_request_uow, finish_request_uow
from bpo.extensions import csrf, db, login_manager

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class PlatformState:
    """What the platform keeps per app: its engine, its Redis and its job dispatcher."""

    engine: Engine
    redis: redis.Redis
    dispatcher: Dispatcher
    login_throttle: LoginThrottle


class BPOFlask(Flask):
    def dispatch_request(self) -> Any:
        """Run the view, then commit the request's unit of work if it succeeded.

        Committing here, inside dispatch, means a failing commit reaches the same
        error handlers as a failing view (503 when PostgreSQL is gone, not a bare 500).
        """
        response: Response = self.make_response(super().dispatch_request())
        finish_request_uow(commit=response.status_code < 400)
        return response


class CookieSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions everywhere except the API.

    The API authenticates from the ``Authorization`` header only: it never reads
    the session cookie (so a browser's cookies cannot drive it: no CSRF) and never
    sets one.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return self.session_class()
        return super().open_session(app, request)

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        from flask import request

        return not request.path.startswith("/api/") and super().should_set_cookie(app, session)


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


def create_app(environ: Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    """Build the app from ``environ`` (default: the process environment) and ``overrides``."""
    app = BPOFlask(
        "bpo",
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    app.session_interface = CookieSessions()
    app.config.update(load_config(os.environ if environ is None else environ))
    app.config.update(overrides)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("alembic.runtime.plugins", "pgserver"):
        logging.getLogger(chatty).setLevel(logging.WARNING)

    import bpo.models  # noqa: F401  (every model is mapped before first use)

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    with app.app_context():
        engine = db.engine
    ping_when_idle(engine)
    client = redis_client(app.config["REDIS_URL"])
    app.extensions["bpo"] = PlatformState(
        engine=engine,
        redis=client,
        dispatcher=import_string(app.config["BPO_DISPATCHER"]),
        login_throttle=LoginThrottle(app.config["REDIS_URL"], client),
    )

    app.teardown_request(lambda exc: close_request_uow())
    _register_surfaces(app)
    return app


def _register_surfaces(app: Flask) -> None:
    from bpo.api.v1 import api_v1
    from bpo.cli import register_cli
    from bpo.core.auth import init_auth
    from bpo.web import register_web

    init_auth(app)
    register_web(app)
    app.register_blueprint(api_v1)
    csrf.exempt(api_v1)
    register_cli(app)
