"""Firing runs in PostgreSQL (``bpo.sla.checks``) on the checkpoint instants each clock
keeps; ``bpo.sla.clock`` defines what firing does. This test holds the two together."""

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.sla import clock as clocks
from bpo.sla import services as sla
from bpo.sla.checks import check_due
from bpo.sla.models import SlaClock, SlaEvent
from bpo.work import index, services
from bpo.work.models import WorkItem
from tests.support.agents import new_tenant
from tests.support.factories import invoice_task, ticket_task
from tests.support.sla import setup_sla

CLIENT = Actor("client:1", "Client")
# Business hours with a lunch break and a weekend, so instants are not plain sums.
OFFICE = {
    "timezone": "America/New_York",
    "week": {
        **{d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu")},
        "fri": [["09:00", "12:00"]],
    },
    "holidays": [],
}


def _state(tenant: str) -> dict[int, tuple]:
    with unit_of_work(tenant) as uow:
        return {
            row.id: (tuple(row.fired), row.warned, row.breached, row.next_check_at)
            for row in uow.session.scalars(select(SlaClock).where(SlaClock.state == "running"))
        }


@pytest.mark.parametrize("seed", range(3))
def test_sql_firing_does_what_the_clock_model_does(app, seed):
    rnd = random.Random(seed)
    tenant = new_tenant("fire")
    setup_sla(
        tenant,
        targets={"resolution": 6 * 3600, "first_response": 2 * 3600, "start_by": 3 * 3600},
        calendar=OFFICE,
        thresholds=sorted(rnd.sample([25, 50, 60, 75, 90], 3)),
    )
    with unit_of_work(tenant) as uow:
        for _ in range(6):
            factory = rnd.choice([invoice_task, ticket_task])
            services.create_task(uow, factory(), CLIENT)
    with unit_of_work(tenant) as uow:
        rows = list(uow.session.scalars(select(SlaClock)))
        start = min(r.started_at for r in rows)
        # Instants to check at: every checkpoint exactly, and random ones between.
        instants = {at for r in rows for at in r.checkpoint_ats}
        instants |= {start + timedelta(minutes=rnd.randrange(0, 5 * 24 * 60)) for _ in range(8)}
    fired_events = 0
    for now in sorted(instants):
        before = _state(tenant)
        with unit_of_work(tenant) as uow:
            models = {
                row.id: (sla.calendar_of(row.calendar), sla.pure(row))
                for row in uow.session.scalars(select(SlaClock).where(SlaClock.state == "running"))
            }
            fired = check_due(uow, now)
        fired_events += len(fired)
        after = _state(tenant)
        for clock_id, (calendar, value) in models.items():
            due = clocks.due_now(calendar, value, now)
            expected = clocks.fire(value, due)
            warned = max([p for p in expected.fired if p < clocks.BREACH], default=0)
            next_check = clocks.next_check(calendar, expected)
            if before[clock_id][3] is not None and before[clock_id][3] > now:
                assert after[clock_id] == before[clock_id]  # not due: untouched
                continue
            assert after[clock_id] == (
                expected.fired,
                warned,
                clocks.BREACH in expected.fired,
                next_check,
            ), (now, clock_id)
    assert fired_events > 0
    with unit_of_work(tenant) as uow:
        # Once each, and the index mirrors the earliest next check of each task.
        keys = uow.session.execute(
            select(SlaEvent.clock_id, SlaEvent.threshold).where(SlaEvent.kind != "started")
        ).all()
        assert len(keys) == len(set(keys)) == fired_events
        tenant_id = index.tenant_id(uow)
        for item in uow.session.scalars(select(WorkItem).where(WorkItem.tenant_id == tenant_id)):
            checks = [
                c.next_check_at
                for c in uow.session.scalars(
                    select(SlaClock).where(SlaClock.task_id == item.task_id)
                )
                if c.next_check_at is not None
            ]
            assert item.next_check_at == (min(checks) if checks else None)


def test_a_task_whose_clocks_another_change_holds_waits_for_the_next_check(app):
    """Firing never mirrors a task from clocks another transaction is changing: while a
    change holds the task's open clocks (a pause or a reply in flight, through
    ``services._open_clocks``), its due checkpoints wait; the other tasks fire; once
    the change is done, it fires too."""
    tenant = new_tenant("fire")
    setup_sla(tenant, targets={"resolution": 3600, "first_response": 600})
    with unit_of_work(tenant) as uow:
        held = services.create_task(uow, ticket_task(), CLIENT).task.id
        free = services.create_task(uow, ticket_task(), CLIENT).task.id
    with unit_of_work(tenant) as uow:
        start = max(c.started_at for c in uow.session.scalars(select(SlaClock)))
    now = start + timedelta(minutes=6)  # first response at 50 % for both
    with unit_of_work(tenant) as holder:
        assert len(sla._open_clocks(holder.session, [held])) == 2
        with unit_of_work(tenant) as uow:
            fired = check_due(uow, now)
        assert {f.task_id for f in fired} == {free}
    with unit_of_work(tenant) as uow:
        fired = check_due(uow, now)
    assert {(f.task_id, f.target, f.percent) for f in fired} == {(held, "first_response", 50)}
