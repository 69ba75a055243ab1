"""Configuration from the environment.

``BPO_*`` variables plus the customary ``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY``.

Nothing here runs at import time; :func:`load_config` is called by the app factory.
"""

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production", "test")
EMBEDDED_STATE_FILE = "embedded.json"


class ConfigError(RuntimeError):
    """The configuration cannot start the platform; the message says what is missing."""


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the URL was given with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def embedded_state(instance_dir: Path) -> dict[str, str] | None:
    """URLs published by a running ``bpo up`` owner process, if there is one."""
    path = instance_dir / EMBEDDED_STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None
    return {k: state[k] for k in ("DATABASE_URL", "REDIS_URL") if k in state}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dev_secret(instance_dir: Path) -> str:
    """A development secret kept under instance/ so sessions survive restarts."""
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config from ``environ`` (default ``os.environ``).

    Raises :class:`ConfigError` naming every missing setting in production.
    """
    env = os.environ if environ is None else environ
    mode = env.get("BPO_ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"BPO_ENV must be one of {', '.join(ENVIRONMENTS)}, not {mode!r}")
    instance_dir = Path(env.get("BPO_INSTANCE_DIR", "instance")).resolve()
    database_url = env.get("DATABASE_URL")
    redis_url = env.get("REDIS_URL")
    secret_key = env.get("SECRET_KEY")

    if mode == "production":
        missing = [
            name
            for name, value in (
                ("DATABASE_URL", database_url),
                ("REDIS_URL", redis_url),
                ("SECRET_KEY", secret_key),
            )
            if not value
        ]
        if missing:
            raise ConfigError("production mode needs " + ", ".join(missing) + " in the environment")
    else:
        published = embedded_state(instance_dir) or {}
        database_url = database_url or published.get("DATABASE_URL")
        redis_url = redis_url or published.get("REDIS_URL")
        secret_key = secret_key or _dev_secret(instance_dir)
        if not database_url or not redis_url:
            raise ConfigError(
                "DATABASE_URL and REDIS_URL are not set and no embedded servers are running:"
                " start them with `make run` (or `bpo up`), or set both variables"
            )

    assert database_url and redis_url and secret_key  # narrowed above
    return {
        "BPO_ENV": mode,
        "BPO_INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # No pool_pre_ping: bpo.core.pool pings only connections idle a while.
            "pool_size": int(env.get("BPO_DB_POOL_SIZE", "5")),
            "max_overflow": int(env.get("BPO_DB_MAX_OVERFLOW", "10")),
            "pool_timeout": 5,
            "connect_args": {"connect_timeout": 3},
        },
        "REDIS_URL": redis_url,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": mode == "production",
        "REMEMBER_COOKIE_SECURE": mode == "production",
        "BPO_LOGIN_LIMIT_ACCOUNT": env.get("BPO_LOGIN_LIMIT_ACCOUNT", "5 per 15 minutes"),
        "BPO_LOGIN_LIMIT_ADDRESS": env.get("BPO_LOGIN_LIMIT_ADDRESS", "30 per 15 minutes"),
        "BPO_API_TOKEN_DAYS": int(env.get("BPO_API_TOKEN_DAYS", "90")),
        "BPO_MIGRATE_CONCURRENCY": int(env.get("BPO_MIGRATE_CONCURRENCY", "4")),
        "BPO_DISPATCHER": env.get("BPO_DISPATCHER", "queues.dispatch:enqueue"),
        "MAX_CONTENT_LENGTH": int(env.get("BPO_MAX_UPLOAD_BYTES", str(64 * 1024 * 1024))),
        # Routing (bpo.routing.services.settings): how long an assigned task may wait
        # to be started, how often it may come back before a supervisor must look at
        # it, and how long work waits for a qualified agent before the overflow group.
        "BPO_LEASE_SECONDS": int(env.get("BPO_LEASE_SECONDS", "600")),
        "BPO_MAX_ATTEMPTS": int(env.get("BPO_MAX_ATTEMPTS", "3")),
        "BPO_SKILLS_TIMEOUT_SECONDS": int(env.get("BPO_SKILLS_TIMEOUT_SECONDS", "1800")),
        # SLA notifications by e-mail: SMTP when BPO_SMTP_URL is set (smtp://user:pass@host:25,
        # smtp+starttls://...); outside production, captured to instance/mail.log instead.
        "BPO_SMTP_URL": env.get("BPO_SMTP_URL"),
        "BPO_MAIL_FROM": env.get("BPO_MAIL_FROM", "BPO platform <no-reply@bpo.invalid>"),
        "BPO_MAIL_FILE": env.get(
            "BPO_MAIL_FILE",
            "" if mode == "production" else str(instance_dir / "mail.log"),
        ),
    }
