"""Intake: every type, idempotency, batches all or nothing, the work index, after commit."""

import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from bpo.audit.models import AuditEvent
from bpo.core.actors import Actor
from bpo.core.errors import ValidationFailed
from bpo.core.uow import unit_of_work
from bpo.work import index, services
from bpo.work.models import Task, TaskMessage, WorkItem
from bpo.work.states import Status
from queues.connection import get_queue
from tests.support.factories import ALL_TYPES, ensure_form, invoice_task, record_task, ticket_task
from tests.support.helpers import unique

CLIENT = Actor("client:1", "Test client")


def count(tenant: str, model=Task) -> int:
    with unit_of_work(tenant) as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


@pytest.fixture(autouse=True)
def _forms(world):
    ensure_form(world.alpha)


@pytest.mark.parametrize("factory", ALL_TYPES)
def test_each_type_is_created_indexed_audited_and_routed_after_commit(app, world, factory):
    data = factory(external_ref=unique("ref-"))
    with unit_of_work(world.alpha) as uow:
        intake = services.create_task(uow, data, CLIENT)
        task_id, kind = intake.task.id, intake.task.kind.value
        assert intake.created
        assert get_queue(kind).count == 0  # not before the commit
    assert get_queue(kind).count == 1
    with unit_of_work(world.alpha) as uow:
        task = uow.session.get(Task, task_id)
        assert task.status == Status.NEW and task.type == data["type"]
        item = uow.session.scalar(
            select(WorkItem).where(
                WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id
            )
        )
        assert item is not None and item.state == Status.NEW and item.dispatch_due_at is not None
        created = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.subject_type == "task", AuditEvent.subject_id == task_id
            )
        ).all()
        assert [e.action for e in created] == ["created"]
    # The routing job runs on its kind's queue and puts the task in the pool.
    worker = SimpleWorker(
        [get_queue(kind)], connection=app.extensions["bpo"].redis, serializer=JSONSerializer
    )
    worker.work(burst=True)
    with unit_of_work(world.alpha) as uow:
        assert uow.session.get(Task, task_id).status == Status.QUEUED
        item = uow.session.scalar(
            select(WorkItem).where(
                WorkItem.tenant_id == index.tenant_id(uow), WorkItem.task_id == task_id
            )
        )
        assert item.state == Status.QUEUED and item.dispatch_due_at is None


def test_routing_twice_changes_nothing(app, world):
    with unit_of_work(world.alpha) as uow:
        task_id = services.create_task(uow, ticket_task(), CLIENT).task.id
    from queues.jobs.routing import route_task

    assert route_task(world.alpha, task_id)["queued"] == 1
    assert route_task(world.alpha, task_id)["queued"] == 0
    with unit_of_work(world.alpha) as uow:
        transitions = uow.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.subject_type == "task",
                AuditEvent.subject_id == task_id,
                AuditEvent.action == "transition",
            )
        )
    assert transitions == 1


def test_ticket_message_opens_the_thread(world):
    with unit_of_work(world.alpha) as uow:
        task = services.create_task(uow, ticket_task(), CLIENT).task
        assert "message" not in task.payload
        messages = uow.session.scalars(
            select(TaskMessage).where(TaskMessage.task_id == task.id)
        ).all()
    assert [(m.visibility, m.body) for m in messages] == [
        ("client_message", "Order 5512 was returned two weeks ago.")
    ]


def test_same_external_reference_returns_the_existing_task(world):
    ref = unique("idem-")
    with unit_of_work(world.alpha) as uow:
        first = services.create_task(uow, ticket_task(external_ref=ref), CLIENT)
    before = count(world.alpha)
    with unit_of_work(world.alpha) as uow:
        again = services.create_task(
            uow, ticket_task(external_ref=ref, payload={"subject": "changed"}), CLIENT
        )
    assert not again.created and again.task.id == first.task.id
    assert count(world.alpha) == before


def test_external_references_are_per_tenant(world):
    ref = unique("shared-")
    with unit_of_work(world.alpha) as uow:
        a = services.create_task(uow, ticket_task(external_ref=ref), CLIENT)
    with unit_of_work(world.beta) as uow:
        b = services.create_task(uow, ticket_task(external_ref=ref), CLIENT)
    assert a.created and b.created


def test_bad_input_names_the_field_and_writes_nothing(world):
    before, audit_before = count(world.alpha), count(world.alpha, AuditEvent)
    cases = [
        ({"type": "nope", "payload": {}}, ("type",)),
        ({"type": "support.ticket"}, ("payload",)),
        (
            invoice_task(
                payload={"totals": {"subtotal": "14.97", "tax": "1.50", "total": "16.48"}}
            ),
            ("payload", "totals", "total"),
        ),
        (record_task(payload={"form": "unknown_form"}), ("payload", "form")),
        (record_task(payload={"values": {"tin": "12"}}), ("payload", "values", "tin")),
        (ticket_task(priority="asap"), ("priority",)),
        (ticket_task(external_ref="has space"), ("external_ref",)),
        ("not an object", ("type",)),
    ]
    for data, path in cases:
        with pytest.raises(ValidationFailed) as raised, unit_of_work(world.alpha) as uow:
            services.create_task(uow, data, CLIENT)
        fields = raised.value.fields
        for key in path:
            assert key in fields, (data, fields)
            fields = fields[key]
    assert count(world.alpha) == before and count(world.alpha, AuditEvent) == audit_before


def test_keyed_record_values_are_validated_and_normalized(world):
    with unit_of_work(world.alpha) as uow:
        task = services.create_task(
            uow, record_task(payload={"values": {"tin": "123456789", "amount": "5"}}), CLIENT
        ).task
    assert task.payload["values"] == {"tin": "123456789", "amount": "5"}


def test_likely_duplicate_invoices_are_flagged(world):
    number = unique("DUP-")
    with unit_of_work(world.alpha) as uow:
        first = services.create_task(
            uow, invoice_task(payload={"invoice_number": number}), CLIENT
        ).task
        second = services.create_task(
            uow,
            invoice_task(payload={"invoice_number": number.lower(), "vendor": "paper &  co"}),
            CLIENT,
        ).task
    assert first.flags == []
    assert (
        second.flags[0]["code"] == "possible_duplicate" and second.flags[0]["task_id"] == first.id
    )
    # Another tenant's invoice with the same vendor and number is not a duplicate here.
    with unit_of_work(world.beta) as uow:
        other = services.create_task(
            uow, invoice_task(payload={"invoice_number": number}), CLIENT
        ).task
    assert other.flags == []


def test_batch_is_all_or_nothing_and_reports_every_bad_row(world):
    before = count(world.alpha)
    rows = [ticket_task(external_ref=unique("b-")) for _ in range(5)]
    rows[1]["payload"]["channel"] = "fax"
    rows[3]["priority"] = "whenever"
    with pytest.raises(ValidationFailed) as raised, unit_of_work(world.alpha) as uow:
        services.create_batch(uow, rows, CLIENT)
    assert set(raised.value.fields) == {"1", "3"}
    assert "channel" in raised.value.fields["1"]["payload"]
    assert "priority" in raised.value.fields["3"]
    assert count(world.alpha) == before


def test_batch_creates_all_and_skips_known_references(world):
    known = unique("known-")
    with unit_of_work(world.alpha) as uow:
        existing = services.create_task(uow, ticket_task(external_ref=known), CLIENT).task
    rows = [ticket_task(external_ref=known)] + [
        ticket_task(external_ref=unique("n-")) for _ in range(3)
    ]
    with unit_of_work(world.alpha) as uow:
        result = services.create_batch(uow, rows, CLIENT, chunk=2)
    assert len(result.created) == 3 and [t.id for t in result.existing] == [existing.id]
    repeated = [ticket_task(external_ref="same-ref"), ticket_task(external_ref="same-ref")]
    with pytest.raises(ValidationFailed) as raised, unit_of_work(world.alpha) as uow:
        services.create_batch(uow, repeated, CLIENT)
    assert "repeats row 0" in raised.value.fields["1"]["external_ref"][0]


def test_rolled_back_intake_enqueues_nothing(world):
    with pytest.raises(RuntimeError), unit_of_work(world.alpha) as uow:
        services.create_task(uow, ticket_task(), CLIENT)
        raise RuntimeError("the request failed after intake")
    assert get_queue("support").count == 0
