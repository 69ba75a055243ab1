"""Many claimers at once: every task claimed exactly once, nobody over capacity.

Each claimer is a thread with its own units of work (so its own connection, from
an app whose pool is big enough for all of them), against the real PostgreSQL.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select

from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.routing.services import agent, claim_next
from bpo.work.models import WorkItem
from bpo.work.states import Status
from tenants.db import utcnow
from tests.routing._helpers import queued, transitions_to
from tests.support.agents import make_agent, new_tenant

TASKS = 2000
CLAIMERS = 32
AGENTS = 20  # 12 of them have two claimers, whose claims race for one capacity
CAPACITY = TASKS // AGENTS


@pytest.fixture
def wide_app(app: Flask) -> Iterator[Flask]:
    """The app with a connection pool for every claimer thread (its own engine)."""
    state = app.extensions["bpo"]
    narrow = state.engine
    state.engine = create_engine(narrow.url, pool_size=CLAIMERS + 8, max_overflow=0)
    try:
        yield app
    finally:
        state.engine.dispose()
        state.engine = narrow


def _in_threads(wide: Flask, n: int, work: Callable[[int], int]) -> list[int]:
    start = threading.Barrier(n)

    def run(i: int) -> int:
        with wide.app_context():
            start.wait()
            return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _assignments(tenant_id: int) -> tuple[Counter[int], int]:
    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(WorkItem.state, WorkItem.assignee_id, func.count())
            .where(WorkItem.tenant_id == tenant_id)
            .group_by(WorkItem.state, WorkItem.assignee_id)
        ).all()
    held: Counter[int] = Counter()
    waiting = 0
    for state, assignee, n in rows:
        if state == Status.ASSIGNED:
            held[int(assignee)] += int(n)
        else:
            assert state == Status.QUEUED, state
            waiting += int(n)
    return held, waiting


def _tenant_id(tenant: str) -> int:
    from tenants.models import Tenant

    with unit_of_work() as uow:
        return int(uow.session.scalar(select(Tenant.id).where(Tenant.slug == tenant)) or 0)


def _no_one_over_capacity(wide: Flask, agents: list[int]) -> None:
    with wide.app_context(), unit_of_work() as uow:
        for agent_id in agents:
            a = agent(uow.session, agent_id, utcnow())
            assert a is not None and a.spare("support") >= 0, (agent_id, a)


def test_concurrent_pull_claims_each_task_exactly_once(app, wide_app):
    tenant = new_tenant()
    ids = queued(tenant, TASKS)
    agents = [make_agent([tenant], capacity={"support": CAPACITY}) for _ in range(AGENTS)]
    claimed_by_thread: list[list[int]] = [[] for _ in range(CLAIMERS)]

    def claimer(i: int) -> int:
        agent_id = agents[i % AGENTS]
        while True:
            with unit_of_work() as uow:
                claimed = claim_next(uow.session, agent_id, utcnow())
            if claimed is None:
                return len(claimed_by_thread[i])
            claimed_by_thread[i].append(claimed.task_id)

    counts = _in_threads(wide_app, CLAIMERS, claimer)
    every = [t for got in claimed_by_thread for t in got]
    assert sum(counts) == TASKS
    assert sorted(every) == sorted(ids)  # none twice, none lost
    held, waiting = _assignments(_tenant_id(tenant))
    assert waiting == 0 and sum(held.values()) == TASKS
    assert set(held) == set(agents) and max(held.values()) <= CAPACITY
    audit = transitions_to(tenant, "assigned")
    assert set(audit) == set(ids) and set(audit.values()) == {1}
    _no_one_over_capacity(wide_app, agents)


def test_concurrent_push_and_pull_on_the_same_tasks(app, wide_app):
    tenant = new_tenant()
    ids = queued(tenant, 400)
    agents = [make_agent([tenant], capacity={"support": 30}) for _ in range(12)]  # 360 < 400
    chunks = [ids[i::8] for i in range(8)]
    pulled: list[list[int]] = [[] for _ in range(16)]
    pushed: list[dict[int, int]] = [{} for _ in range(8)]

    def worker(i: int) -> int:
        if i < 8:  # push: the routing job over a share of the tasks
            pushed[i] = router.route(tenant, chunks[i]).assigned
            return len(pushed[i])
        j = i - 8
        while True:
            with unit_of_work() as uow:
                claimed = claim_next(uow.session, agents[j % len(agents)], utcnow())
            if claimed is None:
                return len(pulled[j])
            pulled[j].append(claimed.task_id)

    _in_threads(wide_app, 24, worker)
    every = [t for got in pulled for t in got] + [t for got in pushed for t in got]
    assert len(every) == len(set(every)) == 360  # exactly the capacity there was
    held, waiting = _assignments(_tenant_id(tenant))
    assert sum(held.values()) == 360 and waiting == 40
    assert max(held.values()) <= 30
    audit = transitions_to(tenant, "assigned")
    assert set(audit) == set(every) and set(audit.values()) == {1}
    _no_one_over_capacity(wide_app, agents)
