"""`flask sla defaults SLUG`: business hours in the tenant's zone and standard policies."""

from datetime import timedelta

from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.sla.models import SlaCalendar, SlaClock, SlaPolicy
from bpo.work import services
from tests.support.agents import new_tenant
from tests.support.factories import ticket_task


def test_defaults_install_once_and_start_clocks(app):
    tenant = new_tenant("cli")
    first = app.test_cli_runner().invoke(args=["sla", "defaults", tenant])
    assert first.exit_code == 0, first.output
    assert "3 policies" in first.output
    again = app.test_cli_runner().invoke(args=["sla", "defaults", tenant])
    assert again.exit_code == 0 and "nothing changed" in again.output
    with unit_of_work(tenant) as uow:
        assert [
            p.name for p in uow.session.scalars(select(SlaPolicy).order_by(SlaPolicy.position))
        ] == [
            "Urgent",
            "Support",
            "Back office",
        ]
        calendar = uow.session.scalar(select(SlaCalendar))
        assert calendar.definition["week"]["mon"] == [["09:00", "17:00"]]
        assert calendar.definition["week"]["sat"] == []
        task = services.create_task(uow, ticket_task(), Actor("client:1", "C")).task
    with unit_of_work(tenant) as uow:
        targets = {
            c.target: c.target_seconds
            for c in uow.session.scalars(select(SlaClock).where(SlaClock.task_id == task.id))
        }
    assert targets == {"first_response": 4 * 3600, "resolution": 24 * 3600}
    assert task.sla_due_at is not None and task.sla_due_at > task.created_at + timedelta(hours=3)


def test_defaults_for_an_unknown_tenant_say_so(app):
    result = app.test_cli_runner().invoke(args=["sla", "defaults", "no_such_tenant"])
    assert result.exit_code == 2
    assert "no_such_tenant" in result.output or "tenant" in result.output.lower()
