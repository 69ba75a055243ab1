"""The routing rules of DESIGN section 6, through the database (push, pull, returns)."""

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.routing import desk, reconciler, router, rules
from bpo.routing.services import NotAssignable, agent, assign_by_hand, claim_next, claim_task
from bpo.work.models import WorkItem
from bpo.work.states import Status
from tenants.db import utcnow
from tests.routing._helpers import (
    create,
    item,
    queued,
    scatter_flags,
    sql,
    task,
    transitions_to,
)
from tests.support.agents import ALL_SKILLS, make_agent, new_tenant, staff
from tests.support.factories import invoice_task, reconciliation_task, ticket_task

SUPERVISOR = Actor("staff:supervisor", "Supervisor")


def _idle_since(agent_id: int, minutes: int) -> None:
    sql(
        "UPDATE bpo.agent_profiles SET last_assigned_at = now() - make_interval(mins => :m)"
        " WHERE staff_id = :a",
        m=minutes,
        a=agent_id,
    )


def _capacity(agent_id: int, units: int) -> None:
    sql(
        "UPDATE bpo.agent_profiles SET capacity = jsonb_build_object('support', :u)"
        " WHERE staff_id = :a",
        u=units,
        a=agent_id,
    )


def test_push_prefers_most_spare_capacity_then_longest_idle(app):
    tenant = new_tenant()
    small = make_agent([tenant], capacity={"support": 3})
    big = make_agent([tenant], capacity={"support": 5})
    (first,) = create(tenant)
    assert router.route(tenant, [first]).assigned == {first: big}  # 5 spare against 3
    # Equal spare (big 5 - 1, small 4 - 0): the one idle longer gets it.
    _capacity(small, 4)
    _idle_since(big, 5)
    _idle_since(small, 60)
    (second,) = create(tenant)
    assert router.route(tenant, [second]).assigned == {second: small}
    # More spare beats idle longer: small 7 - 1 = 6 against big 5 - 1 = 4.
    _capacity(small, 7)
    _idle_since(big, 120)
    _idle_since(small, 1)
    (third,) = create(tenant)
    assert router.route(tenant, [third]).assigned == {third: small}


def test_fill_takes_most_urgent_first(app):
    tenant = new_tenant()
    ids = queued(tenant, 5)
    old, plain, high, due_late, due_soon = ids
    now = utcnow()
    sql(
        "UPDATE bpo.work_items SET created_at = :c WHERE task_id = :t AND tenant_id ="
        " (SELECT id FROM bpo.tenants WHERE slug = :s)",
        c=now - timedelta(hours=3),
        t=old,
        s=tenant,
    )
    for task_id, due, rank in (
        (high, None, 2),
        (due_late, now + timedelta(hours=5), 0),
        (due_soon, now + timedelta(hours=1), 0),
    ):
        sql(
            "UPDATE bpo.work_items SET sla_due_at = :d, priority_rank = :r WHERE task_id = :t"
            " AND tenant_id = (SELECT id FROM bpo.tenants WHERE slug = :s)",
            d=due,
            r=rank,
            t=task_id,
            s=tenant,
        )
    agent_id = make_agent([tenant], capacity={"support": 10})
    given = router.fill(agent_id)
    assert [c.task_id for c in given] == [due_soon, due_late, high, old, plain]


def test_skills_and_levels_urgent_asks_one_more(app):
    tenant = new_tenant()
    (normal,) = queued(tenant, 1, reconciliation_task)  # needs level 2
    (urgent,) = queued(tenant, 1, reconciliation_task, priority="urgent")  # needs level 3
    assert item(tenant, normal).required_skills == ["accounting.bank_reconciliation@2"]
    assert item(tenant, urgent).required_skills == ["accounting.bank_reconciliation@3"]
    novice = make_agent([tenant], skills={"accounting.bank_reconciliation": 1})
    stranger = make_agent([tenant], skills={"support.ticket": 5})
    level2 = make_agent([tenant], skills={"accounting.bank_reconciliation": 2})
    for nobody in (novice, stranger):
        with unit_of_work() as uow:
            assert claim_next(uow.session, nobody, utcnow()) is None
    assert [c.task_id for c in router.fill(level2)] == [normal]
    level3 = make_agent([tenant], skills={"accounting.bank_reconciliation": 3})
    assert [c.task_id for c in router.fill(level3)] == [urgent]


def test_capacity_is_per_kind_and_weighted(app):
    tenant = new_tenant()
    invoices = queued(tenant, 3, invoice_task)  # weight 2 each, accounting
    tickets = queued(tenant, 2, ticket_task)  # weight 1 each, support
    agent_id = make_agent([tenant], capacity={"accounting": 5, "support": 1})
    given = router.fill(agent_id)
    taken = {c.task_id for c in given}
    assert len(taken & set(invoices)) == 2  # 4 of 5 units: a third would need 6
    assert len(taken & set(tickets)) == 1
    with unit_of_work() as uow:
        a = agent(uow.session, agent_id, utcnow())
    assert a is not None and a.load == {"accounting": 4, "support": 1}


def test_only_tenants_served(app):
    mine, other = new_tenant(), new_tenant()
    ours = queued(mine, 2)
    theirs = queued(other, 2)
    agent_id = make_agent([mine])
    assert sorted(c.task_id for c in router.fill(agent_id) if c.tenant_slug == mine) == ours
    assert all(c.tenant_slug == mine for c in router.fill(agent_id))
    assert {item(other, t).state for t in theirs} == {Status.QUEUED}


def test_a_routing_job_queues_what_is_due_and_schedules_what_is_deferred(app):
    tenant = new_tenant()  # nobody serves it: everything due waits in the pool
    later = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    (deferred,) = create(tenant, defer_until=later.isoformat())
    (fresh,) = create(tenant)
    (waiting,) = queued(tenant)
    routed = router.route(tenant, [deferred, fresh, waiting])
    assert routed.deferred == [deferred] and routed.queued == [fresh] and not routed.assigned
    row = item(tenant, deferred)
    assert row.state == Status.NEW and row.dispatch_due_at == later
    assert task(tenant, deferred).status == Status.NEW
    for task_id in (fresh, waiting):
        row = item(tenant, task_id)
        assert row.state == Status.QUEUED and row.dispatch_due_at is None
        assert task(tenant, task_id).status == Status.QUEUED
    # When its time comes (the reconciler's dispatch), the same step queues it.
    routed = router.route(tenant, [deferred], now=later + timedelta(seconds=1))
    assert routed.queued == [deferred] and not routed.deferred
    assert item(tenant, deferred).state == Status.QUEUED
    assert transitions_to(tenant, "queued") == {deferred: 1, fresh: 1, waiting: 1}


def test_lease_expiry_returns_the_task_keeping_its_age_and_counts_an_attempt(app):
    tenant = new_tenant()
    (task_id,) = create(tenant)
    agent_id = make_agent([tenant])
    assert router.route(tenant, [task_id]).assigned == {task_id: agent_id}
    created = task(tenant, task_id).created_at
    indexed = item(tenant, task_id).created_at
    sql(
        "UPDATE bpo.work_items SET lease_until = now() - interval '1 second'"
        " WHERE task_id = :t AND assignee_id = :a",
        t=task_id,
        a=agent_id,
    )
    reconciler.reconcile()
    row = item(tenant, task_id)
    assert row.state == Status.QUEUED and row.attempts == 1 and row.assignee_id is None
    assert row.created_at == indexed and task(tenant, task_id).created_at == created
    assert task(tenant, task_id).status == Status.QUEUED


def _decline(tenant: str, agent_id: int, task_id: int, reason: str = "not my field") -> None:
    with unit_of_work(tenant) as uow:
        desk.decline(uow, staff(uow.session, agent_id), task_id, reason)


def test_declined_task_is_not_offered_to_the_same_agent_again(app):
    tenant = new_tenant()
    (task_id,) = create(tenant)
    first = make_agent([tenant])
    assert router.route(tenant, [task_id]).assigned == {task_id: first}
    _decline(tenant, first, task_id)
    row = item(tenant, task_id)
    assert row.state == Status.QUEUED and row.attempts == 1 and first in row.declined_by
    with unit_of_work() as uow:
        assert claim_next(uow.session, first, utcnow()) is None
        assert claim_task(uow.session, first, row.tenant_id, task_id, utcnow()) is None
    assert router.route(tenant, [task_id]).assigned == {}
    second = make_agent([tenant])
    assert router.route(tenant, [task_id]).assigned == {task_id: second}


def test_after_max_attempts_the_task_goes_to_exception(app):
    assert app.config["BPO_MAX_ATTEMPTS"] == 3
    tenant = new_tenant()
    (task_id,) = create(tenant)
    router.route(tenant, [task_id])
    for attempt in range(3):
        agent_id = make_agent([tenant])
        with unit_of_work() as uow:
            claimed = claim_next(uow.session, agent_id, utcnow())
        assert claimed is not None and claimed.task_id == task_id, attempt
        _decline(tenant, agent_id, task_id, f"reason {attempt}")
    row = item(tenant, task_id)
    assert row.state == Status.EXCEPTION and row.attempts == 3
    assert row.last_error is not None and "reason 2" in row.last_error
    assert task(tenant, task_id).status == Status.EXCEPTION


def test_skills_timeout_lets_the_overflow_group_take_it(app):
    tenant = new_tenant()
    (task_id,) = queued(tenant, 1, reconciliation_task)
    helper = make_agent([tenant], skills={"support.ticket": 1}, overflow=[tenant])
    with unit_of_work() as uow:
        assert claim_next(uow.session, helper, utcnow()) is None
    sql(
        "UPDATE bpo.work_items SET queued_at = now() - make_interval(secs => :s) WHERE task_id = :t"
        " AND tenant_id = (SELECT id FROM bpo.tenants WHERE slug = :slug)",
        s=app.config["BPO_SKILLS_TIMEOUT_SECONDS"] + 5,
        t=task_id,
        slug=tenant,
    )
    report = reconciler.reconcile()
    assert report.overflowed >= 1 and item(tenant, task_id).overflow
    outsider = make_agent([tenant], skills={"support.ticket": 1})  # not in the overflow group
    with unit_of_work() as uow:
        assert claim_next(uow.session, outsider, utcnow()) is None
        claimed = claim_next(uow.session, helper, utcnow())
    assert claimed is not None and claimed.task_id == task_id


def test_going_offline_returns_not_started_tasks(app):
    tenant = new_tenant()
    ids = create(tenant, 3)
    agent_id = make_agent([tenant])
    assert set(router.route(tenant, ids).assigned.values()) == {agent_id}
    started = ids[0]
    with unit_of_work(tenant) as uow:
        desk.start(uow, staff(uow.session, agent_id), started)
    with unit_of_work(tenant) as uow:
        returned = desk.change_presence(uow, staff(uow.session, agent_id), rules.Presence.OFFLINE)
    assert returned == 2
    assert item(tenant, started).state == Status.IN_PROGRESS
    for task_id in ids[1:]:
        row = item(tenant, task_id)
        assert row.state == Status.QUEUED and row.assignee_id is None and row.attempts == 0
        assert task(tenant, task_id).status == Status.QUEUED


def test_manual_assignment_beyond_capacity_is_flagged(app):
    tenant = new_tenant()
    first, second = queued(tenant, 2)
    agent_id = make_agent([tenant], capacity={"support": 1})
    with unit_of_work() as uow:
        tenant_id = item(tenant, first).tenant_id
        a = assign_by_hand(uow.session, agent_id, tenant_id, first, SUPERVISOR, utcnow())
        assert not a.over_capacity
        b = assign_by_hand(uow.session, agent_id, tenant_id, second, SUPERVISOR, utcnow())
        assert b.over_capacity
    assert not item(tenant, first).over_capacity
    assert item(tenant, second).over_capacity and item(tenant, second).assignee_id == agent_id
    (third,) = queued(tenant, 1, reconciliation_task)
    unskilled = make_agent([tenant], skills={"support.ticket": 1})
    with unit_of_work() as uow, pytest.raises(NotAssignable, match="lacks"):
        assign_by_hand(uow.session, unskilled, tenant_id, third, SUPERVISOR, utcnow())


# -- SQL and the pure rules agree ------------------------------------------------------

TYPES = (ticket_task, invoice_task, reconciliation_task)
KINDS = ("support", "accounting")


def _pool(tenant_ids: list[int]) -> list[rules.Work]:
    with unit_of_work() as uow:
        rows = uow.session.scalars(
            select(WorkItem).where(
                WorkItem.tenant_id.in_(tenant_ids), WorkItem.state == Status.QUEUED
            )
        ).all()
        return [router.work_of(r) for r in rows]


@pytest.mark.parametrize("seed", range(4))
def test_every_sql_claim_is_one_the_rules_accept(app, seed):
    rnd = random.Random(seed)
    tenants = [new_tenant(), new_tenant()]
    for tenant in tenants:
        for factory in TYPES:
            priority = rnd.choice(["low", "normal", "high", "urgent"])
            queued(tenant, rnd.randint(1, 4), factory, priority=priority)
    tenant_ids = sorted({item(t, 1).tenant_id for t in tenants})
    # Random flags on the pool: declined by someone, past the skills timeout.
    pool = _pool(tenant_ids)
    agents = []
    for _ in range(rnd.randint(3, 6)):
        served = [t for t in tenants if rnd.random() < 0.7] or [tenants[0]]
        skills = {
            s: rnd.randint(1, 4)
            for s in ALL_SKILLS
            if s.split(".")[0] in KINDS and rnd.random() < 0.7
        }
        capacity = {k: rnd.randint(0, 6) for k in KINDS}
        presence = rnd.choice([rules.Presence.ONLINE] * 3 + [rules.Presence.AWAY])
        overflow = [t for t in served if rnd.random() < 0.3]
        agents.append(
            make_agent(
                served, skills=skills, capacity=capacity, presence=presence, overflow=overflow
            )
        )
    scatter_flags(rnd, pool, agents)
    claims = 0
    for _ in range(40):
        agent_id = rnd.choice(agents)
        now = utcnow()
        with unit_of_work() as uow:
            snapshot = agent(uow.session, agent_id, now)
            assert snapshot is not None
            before = _pool(tenant_ids)
            accepted = sorted(
                (w for w in before if rules.refusal(snapshot, w) is None), key=rules.urgency
            )
            claimed = claim_next(uow.session, agent_id, now)
            if claimed is None:
                assert not accepted, [rules.refusal(snapshot, w) for w in accepted]
                continue
            claims += 1
            work = next(
                w
                for w in before
                if (w.tenant_id, w.task_id) == (claimed.tenant_id, claimed.task_id)
            )
            assert rules.refusal(snapshot, work) is None
            assert work == accepted[0]  # and the most urgent of those it may take
    assert claims > 0


def test_a_review_job_failing_for_good_puts_the_task_in_exception(app):
    tenant = new_tenant()
    agent_id = make_agent([tenant])
    (task_id,) = create(tenant)
    assert router.route(tenant, [task_id]).assigned == {task_id: agent_id}
    with unit_of_work(tenant) as uow:
        person = staff(uow.session, agent_id)
        desk.start(uow, person, task_id)
        desk.reply(uow, person, task_id, "Refund sent today.", internal=False)
        desk.hand_in(uow, person, task_id, {"resolution": "refunded"})
    assert task(tenant, task_id).status is Status.IN_REVIEW
    assert router.mark_failed(tenant, [task_id], "ValueError: boom") == [task_id]
    assert task(tenant, task_id).status is Status.EXCEPTION
    assert item(tenant, task_id).last_error == "ValueError: boom"
