"""SLA clocks through the database: start at intake, pause crediting, once-only
warnings and breach (also with two sweeps at once), a breach stays, policy changes
leave closed tasks alone, the sweep repairs lost timers, and tenants stay apart."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from bpo.core.actors import SYSTEM, Actor
from bpo.core.errors import ValidationFailed
from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.sla import services as sla
from bpo.sla.models import Notification, SlaClock, SlaEvent, SlaRollup
from bpo.sla.policies import preview, recalculate, save_policy
from bpo.sla.sweep import deliver_mail, run_due, sweep
from bpo.work import index, services
from bpo.work.models import Task, TaskMessage, WorkItem
from bpo.work.states import Status
from queues.connection import get_queue
from tests.support.agents import make_agent, new_tenant
from tests.support.factories import invoice_task, ticket_task
from tests.support.sla import ALWAYS_OPEN, setup_sla

CLIENT = Actor("client:1", "Client")


def create(tenant: str, data) -> Task:
    with unit_of_work(tenant) as uow:
        return services.create_task(uow, data, CLIENT).task


def clocks_of(tenant: str, task_id: int) -> dict[str, SlaClock]:
    with unit_of_work(tenant) as uow:
        rows = uow.session.scalars(select(SlaClock).where(SlaClock.task_id == task_id))
        return {f"{r.target}:{r.round}": r for r in rows}


def events(tenant: str, task_id: int) -> list[tuple[str, int]]:
    with unit_of_work(tenant) as uow:
        return [
            (e.kind, e.threshold)
            for e in uow.session.scalars(
                select(SlaEvent).where(SlaEvent.task_id == task_id).order_by(SlaEvent.id)
            )
        ]


def test_intake_starts_the_clocks_and_schedules_the_first_check(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    invoice = create(tenant, invoice_task())
    ticket = create(tenant, ticket_task())
    inv = clocks_of(tenant, invoice.id)
    assert set(inv) == {"resolution:0"}
    assert inv["resolution:0"].due_at == invoice.created_at + timedelta(hours=1)
    assert inv["resolution:0"].next_check_at == invoice.created_at + timedelta(minutes=30)
    tick = clocks_of(tenant, ticket.id)
    assert set(tick) == {"first_response:0", "resolution:0"}  # next response waits
    with unit_of_work(tenant) as uow:
        item = uow.session.get(WorkItem, (index.tenant_id(uow), ticket.id))
        assert item.sla_due_at == ticket.created_at + timedelta(minutes=10)
        assert item.next_check_at == ticket.created_at + timedelta(minutes=5)
        assert uow.session.get(Task, ticket.id).sla_due_at == item.sla_due_at
    scheduled = ScheduledJobRegistry(queue=get_queue("sla")).get_job_ids()
    assert f"sla-{tenant}-{int(item.next_check_at.timestamp())}" in scheduled
    assert events(tenant, invoice.id) == [("started", 0)]


def test_warnings_then_breach_fire_once_each_and_notify(app, world):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    supervisor = _supervisor_of(tenant)
    agent_id = make_agent([tenant])
    task = create(tenant, invoice_task())
    assert router.route(tenant, [task.id]).assigned == {task.id: agent_id}
    start = task.created_at
    assert run_due(tenant, start + timedelta(minutes=20)) == []
    first = run_due(tenant, start + timedelta(minutes=31))
    assert [(f.target, f.percent) for f in first] == [("resolution", 50)]
    later = run_due(tenant, start + timedelta(minutes=59))
    assert [f.percent for f in later] == [75, 90]
    breach = run_due(tenant, start + timedelta(minutes=61))
    assert [f.percent for f in breach] == [100]
    assert run_due(tenant, start + timedelta(hours=5)) == []  # nothing fires twice
    assert events(tenant, task.id) == [
        ("started", 0),
        ("warning", 50),
        ("warning", 75),
        ("warning", 90),
        ("breached", 100),
    ]
    clock = clocks_of(tenant, task.id)["resolution:0"]
    assert clock.breached and clock.warned == 90 and clock.next_check_at is None
    with unit_of_work(tenant) as uow:
        item = uow.session.get(WorkItem, (index.tenant_id(uow), task.id))
        assert item.sla_breached and item.sla_warned == 90 and item.next_check_at is None
        rollup = uow.session.scalar(
            select(func.sum(SlaRollup.breaches)).where(SlaRollup.tenant_id == item.tenant_id)
        )
        assert rollup == 1
    with unit_of_work() as uow:
        notes = uow.session.execute(
            select(Notification.staff_id, Notification.kind, Notification.message).where(
                Notification.task_id == task.id, Notification.tenant_id == item.tenant_id
            )
        ).all()
    assert {(staff, kind) for staff, kind, _ in notes} == {
        (who, kind) for who in (supervisor, agent_id) for kind in ("sla_warning", "sla_breach")
    }
    assert len(notes) == 2 * 4  # three warnings and the breach, to each of the two
    assert any("resolution breached" in message for _, _, message in notes)
    mail = Path(app.config["BPO_MAIL_FILE"])
    assert not mail.exists() or "resolution breached" not in mail.read_text()  # after commit
    #   the mail job is queued, not yet run:
    assert get_queue("default").count >= 1


def _supervisor_of(tenant: str) -> int:
    from bpo.identity import services as identity
    from bpo.identity.models import MembershipRole, StaffRole

    with unit_of_work() as uow:
        staff = identity.create_staff(
            uow.session,
            email=f"sup-{tenant}@staff.test",
            name="Sup",
            role=StaffRole.SUPERVISOR,
            password="correct-horse-9",
        )
        identity.grant(
            uow.session,
            staff,
            identity.tenant_by_slug(uow.session, tenant),
            MembershipRole.SUPERVISOR,
        )
        uow.session.flush()
        return staff.id


def test_two_sweeps_on_the_same_instant_fire_each_checkpoint_once(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    tasks = [create(tenant, invoice_task()) for _ in range(20)]
    now = max(t.created_at for t in tasks) + timedelta(hours=2)
    results: list[list] = []
    barrier = threading.Barrier(2)

    def sweeper():
        with app.app_context():
            barrier.wait()
            results.append(run_due(tenant, now))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fired = [(f.task_id, f.percent) for batch in results for f in batch]
    assert len(fired) == len(set(fired)) == 20 * 4  # 50, 75, 90 and the breach, once each
    with unit_of_work(tenant) as uow:
        kinds = uow.session.execute(
            select(SlaEvent.kind, func.count()).group_by(SlaEvent.kind)
        ).all()
    assert dict(kinds) == {"started": 20, "warning": 60, "breached": 20}


def test_pause_is_credited_exactly_and_resolving_from_a_pause_deducts_it(app):
    tenant = new_tenant("sla")
    setup_sla(tenant, pauses={"resolution": ["waiting_on_client", "exception"]})
    task = create(tenant, invoice_task())
    t0 = task.created_at
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.WAITING_ON_CLIENT, t0 + timedelta(minutes=10))
    paused = clocks_of(tenant, task.id)["resolution:0"]
    assert paused.state == "paused" and paused.next_check_at is None
    with unit_of_work(tenant) as uow:  # to another paused status: still paused, no reset
        sla.on_status(uow, [task.id], Status.EXCEPTION, t0 + timedelta(minutes=20))
    assert clocks_of(tenant, task.id)["resolution:0"].paused_since == t0 + timedelta(minutes=10)
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.IN_PROGRESS, t0 + timedelta(minutes=40))
    running = clocks_of(tenant, task.id)["resolution:0"]
    assert running.paused_seconds == 30 * 60
    assert running.due_at == t0 + timedelta(minutes=90)  # one hour plus the half-hour pause
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.WAITING_ON_CLIENT, t0 + timedelta(minutes=50))
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.DONE, t0 + timedelta(minutes=70))
    done = clocks_of(tenant, task.id)["resolution:0"]
    assert done.state == "met" and done.paused_seconds == 50 * 60
    assert not done.breached  # 20 minutes of work in all, well within the hour
    kinds = [kind for kind, _ in events(tenant, task.id)]
    assert kinds == ["started", "paused", "resumed", "paused", "met"]


def test_a_breach_stays_a_breach(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    task = create(tenant, invoice_task())
    run_due(tenant, task.created_at + timedelta(hours=2))
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.DONE, task.created_at + timedelta(hours=3))
    clock = clocks_of(tenant, task.id)["resolution:0"]
    assert clock.state == "met" and clock.breached
    with unit_of_work(tenant) as uow:
        row = uow.session.scalars(
            select(SlaRollup).where(
                SlaRollup.target == "resolution", SlaRollup.tenant_id == index.tenant_id(uow)
            )
        )
        assert sum(r.missed for r in row) == 1


def test_first_response_ignores_internal_notes_and_next_response_runs_from_the_client(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    task = create(tenant, ticket_task())
    with unit_of_work(tenant) as uow:
        row = uow.session.get(Task, task.id)
        uow.session.add(
            TaskMessage(
                task=row, visibility="internal_note", author="staff:1", author_name="A", body="note"
            )
        )
        sla.on_message(uow, row, "internal_note", task.created_at + timedelta(minutes=1))
    assert clocks_of(tenant, task.id)["first_response:0"].state == "running"
    with unit_of_work(tenant) as uow:
        row = uow.session.get(Task, task.id)
        uow.session.add(
            TaskMessage(
                task=row, visibility="public_reply", author="staff:1", author_name="A", body="hello"
            )
        )
        sla.on_message(uow, row, "public_reply", task.created_at + timedelta(minutes=2))
    assert clocks_of(tenant, task.id)["first_response:0"].state == "met"
    with unit_of_work(tenant) as uow:
        row = uow.session.get(Task, task.id)
        sla.on_message(uow, row, "client_message", task.created_at + timedelta(minutes=3))
        sla.on_message(uow, row, "client_message", task.created_at + timedelta(minutes=4))
    nxt = clocks_of(tenant, task.id)["next_response:1"]
    assert nxt.started_at == task.created_at + timedelta(minutes=3)  # the oldest unanswered
    assert "next_response:2" not in clocks_of(tenant, task.id)


def test_editing_a_policy_leaves_closed_tasks_alone_and_recalculation_is_explicit(app):
    tenant = new_tenant("sla")
    policy_id = setup_sla(tenant)
    closed = create(tenant, invoice_task())
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [closed.id], Status.DONE, closed.created_at + timedelta(minutes=5))
    open_task = create(tenant, invoice_task())
    before_closed = clocks_of(tenant, closed.id)["resolution:0"]
    with unit_of_work(tenant) as uow:
        save_policy(
            uow,
            {
                "name": "Everything",
                "calendar_id": _calendar_id(uow, policy_id),
                "targets": {"resolution": 7200},
            },
            policy_id,
        )
    assert clocks_of(tenant, open_task.id)["resolution:0"].target_seconds == 3600  # not yet
    with unit_of_work(tenant) as uow:
        changes = preview(uow)
        assert [(c.task_id, c.shift_seconds) for c in changes] == [(open_task.id, 3600.0)]
    with unit_of_work(tenant) as uow:
        assert recalculate(uow, SYSTEM) == 1
    after_open = clocks_of(tenant, open_task.id)["resolution:0"]
    assert after_open.target_seconds == 7200
    assert after_open.due_at == open_task.created_at + timedelta(hours=2)
    after_closed = clocks_of(tenant, closed.id)["resolution:0"]
    assert (after_closed.target_seconds, after_closed.due_at, after_closed.state) == (
        before_closed.target_seconds,
        before_closed.due_at,
        "met",
    )
    assert ("recalculated", 0) in events(tenant, open_task.id)


def _calendar_id(uow, policy_id: int) -> int:
    from bpo.sla.models import SlaPolicy

    return uow.session.get(SlaPolicy, policy_id).calendar_id


def test_bad_policies_name_the_field(app):
    tenant = new_tenant("sla")
    with unit_of_work(tenant) as uow, pytest.raises(ValidationFailed) as raised:
        save_policy(
            uow,
            {
                "name": "",
                "calendar_id": 999,
                "targets": {"resolution": 5},
                "pauses": {"resolution": ["assigned"]},
            },
        )
    assert {"name", "targets", "pauses"} <= set(raised.value.fields)


def test_the_sweep_fires_after_redis_lost_every_timer(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    task = create(tenant, invoice_task())
    redis = app.extensions["bpo"].redis
    redis.flushdb()
    assert ScheduledJobRegistry(queue=get_queue("sla")).get_job_ids() == []
    report = sweep(task.created_at + timedelta(minutes=45))
    assert report.tenants >= 1
    assert ("warning", 50) in events(tenant, task.id)
    # and the next checkpoint has a timer again
    scheduled = ScheduledJobRegistry(queue=get_queue("sla")).get_job_ids()
    nxt = clocks_of(tenant, task.id)["resolution:0"].next_check_at
    assert f"sla-{tenant}-{int(nxt.timestamp())}" in scheduled


def test_one_tenants_sweep_never_touches_another(app):
    a, b = new_tenant("sla"), new_tenant("sla")
    setup_sla(a)
    setup_sla(b)
    task_a, task_b = create(a, invoice_task()), create(b, invoice_task())
    run_due(a, task_a.created_at + timedelta(hours=2))
    assert ("breached", 100) in events(a, task_a.id)
    assert events(b, task_b.id) == [("started", 0)]
    with unit_of_work() as uow:
        notes = uow.session.scalars(select(Notification.tenant_id)).all()
        assert all(tenant_id != _tenant_id(b) for tenant_id in notes)


def _tenant_id(slug: str) -> int:
    with unit_of_work(slug) as uow:
        return index.tenant_id(uow)


def test_mail_goes_to_the_captured_file_once(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    supervisor = _supervisor_of(tenant)
    task = create(tenant, invoice_task())
    run_due(tenant, task.created_at + timedelta(hours=2))
    with unit_of_work() as uow:
        ids = uow.session.scalars(
            select(Notification.id).where(Notification.staff_id == supervisor)
        ).all()
    assert len(ids) == 4
    assert deliver_mail(ids) == 4
    assert deliver_mail(ids) == 0  # each is sent once
    text = Path(app.config["BPO_MAIL_FILE"]).read_text()
    assert f"To: sup-{tenant}@staff.test" in text and "resolution breached" in text


def test_a_priority_change_retargets_with_the_original_start_and_pause_credit(app):
    tenant = new_tenant("sla")
    with unit_of_work(tenant) as uow:
        from bpo.sla.policies import save_calendar

        cal = save_calendar(uow, "Always", ALWAYS_OPEN)
        save_policy(
            uow,
            {
                "name": "Urgent",
                "position": 1,
                "calendar_id": cal.id,
                "priorities": ["urgent"],
                "targets": {"resolution": 1800},
            },
        )
        save_policy(
            uow,
            {
                "name": "Normal",
                "position": 2,
                "calendar_id": cal.id,
                "targets": {"resolution": 7200},
                "pauses": {"resolution": ["waiting_on_client"]},
            },
        )
    task = create(tenant, invoice_task())
    t0 = task.created_at
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.WAITING_ON_CLIENT, t0 + timedelta(minutes=5))
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [task.id], Status.IN_PROGRESS, t0 + timedelta(minutes=15))
    with unit_of_work(tenant) as uow:
        row = uow.session.get(Task, task.id)
        assert services.change_priority(uow, row, "urgent", SYSTEM)
        assert not services.change_priority(uow, row, "urgent", SYSTEM)  # no change
        with pytest.raises(ValidationFailed):
            services.change_priority(uow, row, "whenever", SYSTEM)
    clock = clocks_of(tenant, task.id)["resolution:0"]
    assert (clock.started_at, clock.paused_seconds, clock.target_seconds) == (t0, 600, 1800)
    assert clock.due_at == t0 + timedelta(minutes=40)  # 30 minutes plus the 10 paused
    with unit_of_work(tenant) as uow:
        item = uow.session.get(WorkItem, (index.tenant_id(uow), task.id))
        assert item.sla_due_at == clock.due_at and item.priority_rank == 3
        assert item.required_skills == ["accounting.invoice@2"]
    assert ("retargeted", 0) in events(tenant, task.id)


def test_met_late_before_any_sweep_is_a_breach_all_the_same(app):
    tenant = new_tenant("sla")
    setup_sla(tenant)
    task = create(tenant, invoice_task())
    with unit_of_work(tenant) as uow:  # no sweep ran: nothing has fired
        sla.on_status(uow, [task.id], Status.DONE, task.created_at + timedelta(hours=3))
    clock = clocks_of(tenant, task.id)["resolution:0"]
    assert clock.state == "met" and clock.breached
    assert ("breached", 100) in events(tenant, task.id)
    with unit_of_work(tenant) as uow:
        rows = uow.session.scalars(
            select(SlaRollup).where(
                SlaRollup.target == "resolution", SlaRollup.tenant_id == index.tenant_id(uow)
            )
        )
        # Summed over days: the breach (at the due) and the late close (two hours
        # later) fall on different UTC days when the test runs after 21:00 UTC.
        totals = [sum(c) for c in zip(*((r.met, r.missed, r.breaches) for r in rows), strict=True)]
    assert totals == [0, 1, 1]
