"""The agent's workspace counts waiting work of the clients they serve, and only those."""

import re

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.work.services import create_batch
from tests.support.factories import invoice_task, ticket_task
from tests.support.helpers import login


def _waiting(page: str, slug: str, kind: str) -> int:
    found = re.search(rf'data-waiting="{slug}-{kind}">(\d+)<', page)
    assert found, f"no {slug}/{kind} cell"
    return int(found.group(1))


def test_waiting_work_of_served_clients_only(client, world):
    assert login(client, "/login", world.agent_alpha_email).status_code == 302
    before = client.get("/agent/").get_data(as_text=True)
    with unit_of_work(world.alpha) as uow:
        create_batch(uow, [ticket_task(), invoice_task()], SYSTEM)
    with unit_of_work(world.beta) as uow:
        create_batch(uow, [ticket_task()], SYSTEM)
    after = client.get("/agent/").get_data(as_text=True)
    assert _waiting(after, world.alpha, "support") == _waiting(before, world.alpha, "support") + 1
    assert _waiting(after, world.alpha, "accounting") == (
        _waiting(before, world.alpha, "accounting") + 1
    )
    assert f'data-waiting="{world.beta}-' not in after  # agent.alpha does not serve beta
