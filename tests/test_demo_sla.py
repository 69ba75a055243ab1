"""The demo's SLA story: per-tenant calendars and policies, and open work in every SLA
state (fine, warned, breached, paused) with 30 days of closed history in the rollups."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.demo_sla import SLAS
from bpo.demo_work import BOOKS, seed_work
from bpo.sla.engine import Calendar
from bpo.sla.models import SlaCalendar, SlaClock, SlaEvent, SlaPolicy, SlaRollup
from bpo.work import index
from bpo.work.models import Task, WorkItem
from bpo.work.schemas import delivered
from bpo.work.states import Status
from tenants.db import utcnow
from tests.support.agents import make_agent, new_tenant

CLIENT = Actor("client:1", "Demo client")


def test_each_demo_tenant_has_its_own_calendar_and_policies():
    zones = {Calendar.from_dict(s.calendar).timezone for s in SLAS.values()}
    assert len(zones) == len(SLAS) == 3
    holidays = [frozenset(s.calendar["holidays"]) for s in SLAS.values()]
    assert len(set(holidays)) == len(holidays)
    assert any(len(day) > 1 for s in SLAS.values() for day in s.calendar["week"].values())
    assert set(SLAS) == set(BOOKS)


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_demo_work_tells_an_sla_story_once(app, book):
    slug = new_tenant("demo")
    make_agent([slug])  # the demo's all-rounder: someone to ask the client a question
    started = time.perf_counter()
    created = seed_work(slug, CLIENT, book=BOOKS[book], sla=SLAS[book])
    assert time.perf_counter() - started < 10

    with unit_of_work(slug) as uow:
        s = uow.session
        tenant_id = index.tenant_id(uow)
        assert s.scalar(select(func.count()).select_from(Task)) == created
        assert (
            s.scalar(select(SlaCalendar.definition))["timezone"] == SLAS[book].calendar["timezone"]
        )
        assert s.scalar(select(func.count()).select_from(SlaPolicy)) == len(SLAS[book].policies)
        open_tasks = {t.id: t for t in s.scalars(select(Task).where(Task.closed_at.is_(None)))}
        closed = list(s.scalars(select(Task).where(Task.status == Status.DONE)))
        clocks = list(s.scalars(select(SlaClock)))
        fired = set(s.execute(select(SlaEvent.task_id, SlaEvent.kind)).all())
    assert len(closed) >= 30
    assert all(delivered(t) for t in closed)  # each shows its client the work done
    assert all(utcnow() - timedelta(days=31) < t.created_at < t.closed_at for t in closed)
    assert {c.task_id for c in clocks} >= set(open_tasks)  # every task has clocks

    with unit_of_work() as shared:
        items = list(
            shared.session.scalars(select(WorkItem).where(WorkItem.tenant_id == tenant_id))
        )
        rollups = list(
            shared.session.scalars(select(SlaRollup).where(SlaRollup.tenant_id == tenant_id))
        )
    assert {i.task_id for i in items} == set(open_tasks)  # closed history left the index
    states = {
        "fine": [i for i in items if not (i.sla_warned or i.sla_breached or i.sla_paused)],
        "warned": [i for i in items if i.sla_warned and not i.sla_breached and not i.sla_paused],
        "breached": [i for i in items if i.sla_breached],
        "paused": [i for i in items if i.sla_paused],
    }
    assert all(states.values()), {k: len(v) for k, v in states.items()}
    for item in states["paused"]:
        assert open_tasks[item.task_id].status is Status.WAITING_ON_CLIENT
        assert item.next_check_at is None and item.assignee_id is not None
    for item in states["warned"] + states["breached"]:  # real events, not just flags
        assert (item.task_id, "warning") in fired
    for item in states["breached"]:
        assert (item.task_id, "breached") in fired
    for item in states["fine"]:  # nothing due that the sweep would still fire
        assert item.next_check_at is None or item.next_check_at > utcnow() - timedelta(minutes=1)
    assert sum(r.met for r in rollups) > 0 and sum(r.missed for r in rollups) > 0
    assert sum(r.breaches for r in rollups) >= len(states["breached"])
    days = {r.day for r in rollups if r.met or r.missed}
    assert len(days) >= 15  # a trend, not a point
    assert min(days) >= (utcnow() - timedelta(days=31)).date()

    assert seed_work(slug, CLIENT, book=BOOKS[book], sla=SLAS[book]) == 0
    with unit_of_work(slug) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Task)) == created
