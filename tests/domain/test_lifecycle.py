"""Transitions: legal ones audited and indexed, illegal ones refused; cancel and messages."""

import pytest
from sqlalchemy import select

from bpo.audit.models import AuditEvent
from bpo.core.actors import SYSTEM, Actor
from bpo.core.errors import Conflict, NotFound, ValidationFailed
from bpo.core.uow import unit_of_work
from bpo.work import index, services
from bpo.work.models import Task, WorkItem
from bpo.work.states import TRANSITIONS, Status
from tests.support.factories import ticket_task

CLIENT = Actor("client:1", "Test client")
AGENT = Actor("staff:9", "Agent")


def new_task(tenant: str) -> int:
    with unit_of_work(tenant) as uow:
        return services.create_task(uow, ticket_task(), CLIENT).task.id


def walk(tenant: str, task_id: int, *statuses: Status) -> None:
    with unit_of_work(tenant) as uow:
        task = services.get_task(uow, task_id)
        for status in statuses:
            services.transition(uow, task, status, AGENT, f"to {status.value}")


def test_the_full_life_is_audited_and_leaves_the_index_when_done(world):
    task_id = new_task(world.alpha)
    path = [
        Status.QUEUED,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_ON_CLIENT,
        Status.IN_PROGRESS,
        Status.IN_REVIEW,
        Status.REJECTED,
        Status.IN_PROGRESS,
        Status.IN_REVIEW,
        Status.DONE,
    ]
    walk(world.alpha, task_id, *path)
    with unit_of_work(world.alpha) as uow:
        events = uow.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == "task",
                AuditEvent.subject_id == task_id,
                AuditEvent.action == "transition",
            )
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.from_state, e.to_state) for e in events] == list(
            zip([s.value for s in [Status.NEW, *path[:-1]]], [s.value for s in path], strict=True)
        )
        assert all(e.actor == "staff:9" and e.reason for e in events)
        task = uow.session.get(Task, task_id)
        assert task.closed_at is not None
        assert (
            uow.session.scalar(
                select(WorkItem).where(
                    WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id
                )
            )
            is None
        )


def test_every_illegal_transition_is_refused_and_changes_nothing(world):
    for source, allowed in TRANSITIONS.items():
        for target in set(Status) - allowed:
            task_id = new_task(world.alpha)
            with unit_of_work(world.alpha) as uow:
                task = services.get_task(uow, task_id)
                task.status = source  # place it directly in the source state for the probe
            with pytest.raises(Conflict), unit_of_work(world.alpha) as uow:
                services.transition(uow, services.get_task(uow, task_id), target, AGENT)
            with unit_of_work(world.alpha) as uow:
                assert uow.session.get(Task, task_id).status == source


def test_index_mirrors_the_state(world):
    task_id = new_task(world.alpha)
    walk(world.alpha, task_id, Status.QUEUED, Status.ASSIGNED)
    with unit_of_work(world.alpha) as uow:
        assert (
            uow.session.scalar(
                select(WorkItem.state).where(
                    WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id
                )
            )
            == Status.ASSIGNED
        )


def test_clients_cancel_only_unstarted_work(world):
    waiting = new_task(world.alpha)
    with unit_of_work(world.alpha) as uow:
        services.cancel_by_client(uow, services.get_task(uow, waiting), CLIENT, "sent by mistake")
        assert services.get_task(uow, waiting).status == Status.CANCELLED
    started = new_task(world.alpha)
    walk(world.alpha, started, Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS)
    with (
        pytest.raises(Conflict, match="can no longer be cancelled"),
        unit_of_work(world.alpha) as uow,
    ):
        services.cancel_by_client(uow, services.get_task(uow, started), CLIENT)


def test_a_client_answer_resumes_work_waiting_on_the_client(world):
    task_id = new_task(world.alpha)
    walk(
        world.alpha,
        task_id,
        Status.QUEUED,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_ON_CLIENT,
    )
    with unit_of_work(world.alpha) as uow:
        services.add_client_message(
            uow, services.get_task(uow, task_id), CLIENT, "Here is the PO number: 7781"
        )
    with unit_of_work(world.alpha) as uow:
        task = services.get_task(uow, task_id)
        assert task.status == Status.IN_PROGRESS
        assert task.messages[-1].body == "Here is the PO number: 7781"


def test_messages_need_a_body_and_an_open_task(world):
    task_id = new_task(world.alpha)
    with pytest.raises(ValidationFailed) as raised, unit_of_work(world.alpha) as uow:
        services.add_client_message(uow, services.get_task(uow, task_id), CLIENT, "   ")
    assert "body" in raised.value.fields
    with unit_of_work(world.alpha) as uow:
        services.cancel_by_client(uow, services.get_task(uow, task_id), CLIENT)
    with pytest.raises(Conflict), unit_of_work(world.alpha) as uow:
        services.add_client_message(uow, services.get_task(uow, task_id), CLIENT, "hello?")


def test_another_tenants_task_is_not_found(world):
    alpha_id = new_task(world.alpha)
    with unit_of_work(world.beta) as uow:
        beta_max = max(uow.session.scalars(select(Task.id)), default=0)
    while True:  # make sure alpha has an id that beta does not
        if alpha_id > beta_max:
            break
        alpha_id = new_task(world.alpha)
    with pytest.raises(NotFound), unit_of_work(world.beta) as uow:
        services.get_task(uow, alpha_id)


def test_system_actor_is_recorded(world):
    task_id = new_task(world.alpha)
    with unit_of_work(world.alpha) as uow:
        assert services.mark_queued(uow, task_id)
    with unit_of_work(world.alpha) as uow:
        event = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "task", AuditEvent.subject_id == task_id)
            .order_by(AuditEvent.id.desc())
        ).first()
    assert event.actor == SYSTEM.ref and event.to_state == "queued"
