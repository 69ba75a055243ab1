"""Pooled connections are pinged on checkout only after sitting idle (bpo.core.pool),
and a pool whose server went away heals itself either way."""

import time

import pytest
from sqlalchemy import create_engine, exc, text

from bpo.core.pool import ping_when_idle

PID = text("SELECT pg_backend_pid()")


@pytest.fixture
def small_engine(engine):
    def make(after: float):
        small = create_engine(engine.url, pool_size=1, max_overflow=0)
        ping_when_idle(small, after=after)
        made.append(small)
        return small

    made: list = []
    yield make
    for small in made:
        small.dispose()


def _kill(engine, pid: int) -> None:
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    time.sleep(0.1)  # the backend exits


def test_an_idle_connection_is_pinged_and_replaced_when_its_server_end_is_gone(
    engine, small_engine
):
    pool = small_engine(after=0.05)
    with pool.connect() as connection:
        first = connection.execute(PID).scalar()
    _kill(engine, first)  # idle in the pool meanwhile, longer than `after`
    with pool.connect() as connection:  # the ping fails, a fresh connection serves
        second = connection.execute(PID).scalar()
    assert second != first


def test_a_connection_used_a_moment_ago_is_not_pinged_and_one_failure_heals_the_pool(
    engine, small_engine
):
    pool = small_engine(after=60)
    with pool.connect() as connection:
        first = connection.execute(PID).scalar()
    _kill(engine, first)
    with pytest.raises(exc.DBAPIError) as failed, pool.connect() as connection:
        connection.execute(PID)  # no ping: the dead connection is used, and fails
    assert failed.value.connection_invalidated
    with pool.connect() as connection:
        assert connection.execute(PID).scalar() != first
