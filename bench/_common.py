"""What the benchmarks share: where they run.

``BPO_BENCH_DATABASE_URL`` (and ``BPO_BENCH_REDIS_URL`` where Redis is used) point
a benchmark at other servers: it creates a database of its own there and drops it
afterwards. Otherwise it starts embedded servers in a temporary directory.
"""

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url

from bpo.config import normalize_database_url


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """``(database_url, redis_url)`` of servers the benchmark may fill and throw away."""
    external, redis_url = (
        os.environ.get("BPO_BENCH_DATABASE_URL"),
        os.environ.get("BPO_BENCH_REDIS_URL"),
    )
    if external and redis_url:
        with scratch_database(normalize_database_url(external)) as url:
            yield url, redis_url
        return
    from bpo.embedded import EmbeddedServers

    with tempfile.TemporaryDirectory(prefix="bpo-bench-") as root:
        embedded = EmbeddedServers(Path(root), cleanup="delete")
        try:
            urls = embedded.start()
            yield normalize_database_url(urls.database_url), urls.redis_url
        finally:
            embedded.stop()


@contextmanager
def database_url() -> Iterator[str]:
    """A driver URL for a database the benchmark may fill and throw away."""
    external = os.environ.get("BPO_BENCH_DATABASE_URL")
    if external:
        with scratch_database(normalize_database_url(external)) as url:
            yield url
        return
    with servers() as (url, _redis):
        yield url


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """Create ``bpo_bench_<random>`` next to ``server_url``'s database, drop it after."""
    name = f"bpo_bench_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            # FORCE: a worker the benchmark just stopped may still hold a session for a
            # moment (its server process notices the closed socket only later).
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


# -- the platform in a benchmark process (used by claim.py and routing.py) ------------

# One support ticket, as the claim and routing benchmarks create them.
TICKET = {
    "type": "support.ticket",
    "payload": {
        "subject": "Where is my refund?",
        "requester": {"name": "Kim Lee", "email": "kim@example.com"},
        "channel": "email",
        "message": "Order 5512 was returned two weeks ago.",
    },
}

# All day every day, in two halves (a shift cannot start and end at the same time).
ALWAYS = [
    {"day": d, "start": start, "end": end}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    for start, end in (("00:00", "12:00"), ("12:00", "00:00"))
]


def app_environ(database_url: str, redis_url: str, instance: str, **extra: str) -> dict[str, str]:
    """The environment of a platform process on the benchmark's servers."""
    return {
        **os.environ,
        "BPO_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench",
        "BPO_INSTANCE_DIR": instance,
        **extra,
    }


def make_agents(slug: str, n: int, capacity: dict[str, int], skills: dict[str, int]) -> list[int]:
    """``n`` online agents always on shift serving tenant ``slug`` (in an app context)."""
    from bpo.core.uow import unit_of_work
    from bpo.identity import services as identity
    from bpo.identity.models import MembershipRole, StaffRole
    from bpo.routing.rules import Presence
    from bpo.workforce.services import profile_of, set_presence, update_profile

    ids = []
    with unit_of_work() as uow:
        s = uow.session
        tenant = identity.tenant_by_slug(s, slug)
        for _ in range(n):
            tag = secrets.token_hex(4)
            staff = identity.create_staff(
                s,
                email=f"bench-{tag}@staff.test",
                name=f"Bench {tag}",
                role=StaffRole.AGENT,
                password=secrets.token_urlsafe(16),
            )
            identity.grant(s, staff, tenant, MembershipRole.AGENT)
            profile_of(s, staff)
            update_profile(s, staff, {"skills": skills, "capacity": capacity, "shifts": ALWAYS})
            set_presence(s, staff, Presence.ONLINE)
            s.flush()
            ids.append(staff.id)
    return ids
