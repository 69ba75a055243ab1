"""/healthz, /readyz, and behaviour while PostgreSQL or Redis is away."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.engine import make_url

from bpo import create_app
from bpo.core.uow import unit_of_work
from bpo.identity import services
from tests.conftest import IsolatedClient, app_environ
from tests.support.helpers import login
from tests.support.proxy import CuttableProxy


def test_healthz_and_readyz(client, world):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"postgresql": "ok", "redis": "ok"}}


def _postgres_upstream(url: str) -> tuple[tuple[str, int] | str, str, str]:
    parsed = make_url(url)
    host = parsed.host or parse_qs(urlsplit(url).query).get("host", [""])[0]
    if host.startswith("/"):
        return (
            f"{host}/.s.PGSQL.{parsed.port or 5432}",
            parsed.username or "postgres",
            parsed.database or "",
        )
    return (host, parsed.port or 5432), parsed.username or "postgres", parsed.database or ""


def _redis_upstream(url: str) -> tuple[tuple[str, int] | str, int]:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path, int(parse_qs(parts.query).get("db", ["0"])[0])
    return (parts.hostname or "127.0.0.1", parts.port or 6379), int(
        (parts.path or "/0").strip("/") or 0
    )


@pytest.fixture
def proxied(servers, world, tmp_path):
    """An app that reaches PostgreSQL and Redis through proxies the test can cut."""
    pg_upstream, user, database = _postgres_upstream(servers.database_url)
    redis_upstream, db = _redis_upstream(servers.redis_url)
    pg, rd = CuttableProxy(pg_upstream).start(), CuttableProxy(redis_upstream).start()
    environ = app_environ(servers, tmp_path)
    environ["DATABASE_URL"] = f"postgresql://{user}@127.0.0.1:{pg.port}/{database}"
    environ["REDIS_URL"] = f"redis://127.0.0.1:{rd.port}/{db}"
    app = create_app(environ)
    app.test_client_class = IsolatedClient
    with unit_of_work() as uow:
        secret = services.issue_token(
            uow.session,
            name="outage",
            days=1,
            tenant=services.tenant_by_slug(uow.session, world.alpha),
        ).secret
    yield app, pg, rd, {"Authorization": f"Bearer {secret}"}
    pg.cut()
    rd.cut()
    app.extensions["bpo"].engine.dispose()


def _eventually(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_postgres_outage_answers_503_and_recovers(proxied, world):
    app, pg, _rd, auth = proxied
    client = app.test_client()
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    signed_in = app.test_client()
    assert (
        login(signed_in, f"/portal/{world.alpha}/login", world.client_alpha_email).status_code
        == 302
    )
    pg.cut()
    # A signed-in page too: the error page must not need the user the database holds.
    page = signed_in.get(f"/portal/{world.alpha}/tasks")
    assert page.status_code == 503 and "temporarily unavailable" in page.get_data(as_text=True)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["postgresql"].startswith(
        "unavailable"
    )
    api = client.get("/api/v1/me", headers=auth)
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
    page = client.get("/portal/alpha/login")
    assert page.status_code == 503 and "temporarily unavailable" in page.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200  # the process itself is alive
    pg.restore()
    assert _eventually(lambda: client.get("/readyz").status_code == 200)
    assert client.get("/api/v1/me", headers=auth).status_code == 200


def test_redis_outage_answers_503_and_recovers(proxied):
    app, _pg, rd, auth = proxied
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    rd.cut()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["redis"].startswith(
        "unavailable"
    )
    # Sign-in depends on Redis for throttling: it refuses rather than going unthrottled.
    login_page = client.get("/portal/alpha/login")
    csrf = (
        login_page.get_data(as_text=True)
        .split('name="csrf_token" type="hidden" value="')[1]
        .split('"')[0]
    )
    attempt = client.post(
        "/portal/alpha/login", data={"email": "a@b.test", "password": "x", "csrf_token": csrf}
    )
    assert attempt.status_code == 503
    rd.restore()
    assert _eventually(lambda: client.get("/readyz").status_code == 200)
    assert client.get("/api/v1/me", headers=auth).status_code == 200
