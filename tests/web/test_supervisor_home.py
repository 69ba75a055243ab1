"""The supervisor's overview counts open work from the work index, for their tenants only."""

import re

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.identity import services
from bpo.identity.models import MembershipRole, StaffRole
from bpo.work.services import create_batch
from tests.support.factories import invoice_task, ticket_task
from tests.support.helpers import PASSWORD, login, unique


def _open(page: str, slug: str, kind: str) -> int:
    found = re.search(rf'data-open="{slug}-{kind}">(\d+)<', page)
    assert found, f"no {slug}/{kind} cell"
    return int(found.group(1))


def test_open_work_per_tenant_and_kind_only_for_overseen_tenants(client, world):
    email = f"{unique('sup')}@staff.test"
    with unit_of_work() as uow:
        staff = services.create_staff(
            uow.session,
            email=email,
            name="Alpha only",
            role=StaffRole.SUPERVISOR,
            password=PASSWORD,
        )
        services.grant(
            uow.session,
            staff,
            services.tenant_by_slug(uow.session, world.alpha),
            MembershipRole.SUPERVISOR,
        )
    assert login(client, "/login", email).status_code == 302
    before = client.get("/supervisor/").get_data(as_text=True)
    with unit_of_work(world.alpha) as uow:
        create_batch(uow, [ticket_task(), ticket_task(), invoice_task()], SYSTEM)
    with unit_of_work(world.beta) as uow:
        create_batch(uow, [ticket_task()], SYSTEM)

    after = client.get("/supervisor/").get_data(as_text=True)
    assert _open(after, world.alpha, "support") == _open(before, world.alpha, "support") + 2
    assert _open(after, world.alpha, "accounting") == _open(before, world.alpha, "accounting") + 1
    assert f'data-open="{world.beta}-' not in after  # beta is not overseen by this supervisor
