"""Agent profiles: validation, presence going idle, and the snapshot routing sees."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bpo.core.actors import SYSTEM
from bpo.core.errors import ValidationFailed
from bpo.core.uow import unit_of_work
from bpo.identity.models import StaffUser
from bpo.routing.rules import Presence, Work, may_take
from bpo.work import index
from bpo.work.models import WorkItem
from bpo.work.services import create_batch
from bpo.workforce.services import set_presence, snapshot, update_profile
from tests.support.factories import invoice_task, ticket_task

MONDAY_NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
WEEKDAYS = [
    {"day": d, "start": "09:00", "end": "17:00"} for d in ("mon", "tue", "wed", "thu", "fri")
]


def _agent(session, world) -> StaffUser:
    return session.scalar(select(StaffUser).where(StaffUser.email == world.agent_alpha_email))


def test_bad_profiles_name_every_field(world):
    with unit_of_work() as uow:
        staff = _agent(uow.session, world)
        with pytest.raises(ValidationFailed) as raised:
            update_profile(
                uow.session,
                staff,
                {
                    "skills": {"accounting.invoice": 9, "nope.type": 2},
                    "capacity": {"accounting": -1},
                    "shifts": [{"day": "someday", "start": "09:00", "end": "17:00"}],
                },
            )
    assert set(raised.value.fields) == {"skills", "capacity", "shifts"}


def test_snapshot_reflects_membership_shift_presence_and_load(world):
    with unit_of_work() as uow:
        staff = _agent(uow.session, world)
        staff.timezone = "America/New_York"
        update_profile(
            uow.session,
            staff,
            {
                "skills": {"accounting.invoice": 4},
                "capacity": {"accounting": 6},
                "shifts": WEEKDAYS,
            },
        )
        set_presence(uow.session, staff, Presence.ONLINE)
        staff_id = staff.id
    with unit_of_work(world.alpha) as uow:
        created = create_batch(uow, [invoice_task(), invoice_task(), ticket_task()], SYSTEM).created
        tenant_id = index.tenant_id(uow)
    with unit_of_work() as uow:  # two invoices (weight 2 each) held by the agent
        uow.session.execute(
            update(WorkItem)
            .where(
                WorkItem.tenant_id == tenant_id, WorkItem.task_id.in_([t.id for t in created[:2]])
            )
            .values(assignee_id=staff_id, state="in_progress")
        )
    with unit_of_work() as uow:
        staff = uow.session.get(StaffUser, staff_id)
        seen = snapshot(uow.session, staff, datetime.now(UTC))
        assert seen.presence is Presence.ONLINE
        assert seen.load == {"accounting": 4} and seen.spare("accounting") == 2
        assert tenant_id in seen.tenants
        later = snapshot(uow.session, staff, datetime.now(UTC) + timedelta(minutes=20))
        assert later.presence is Presence.AWAY  # unseen for 20 minutes
        assert snapshot(uow.session, staff, MONDAY_NOON_NY).on_shift is True
        assert snapshot(uow.session, staff, MONDAY_NOON_NY + timedelta(hours=6)).on_shift is False

    invoice = Work(tenant_id, 1, "accounting", 2, {"accounting.invoice": 3}, 1, MONDAY_NOON_NY)
    heavy = Work(tenant_id, 2, "accounting", 4, {"accounting.invoice": 3}, 1, MONDAY_NOON_NY)
    with unit_of_work() as uow:
        at_noon = snapshot(uow.session, uow.session.get(StaffUser, staff_id), MONDAY_NOON_NY)
    # Seen "now", so by Monday noon the agent has gone idle; as if just seen:
    at_noon = replace(at_noon, presence=Presence.ONLINE)
    assert at_noon.on_shift and may_take(at_noon, invoice) and not may_take(at_noon, heavy)
