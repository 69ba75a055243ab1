"""An agent never takes work of a tenant they do not serve, by any path."""

import pytest

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.routing.services import NotAssignable, assign_by_hand, claim_next, claim_task
from bpo.work.states import Status
from tenants.db import utcnow
from tests.routing._helpers import create, item, queued, sql
from tests.support.agents import make_agent, new_tenant

SUPERVISOR = Actor("staff:supervisor", "Supervisor")


def test_no_path_hands_out_another_tenants_task(app):
    served, other = new_tenant(), new_tenant()
    agent_id = make_agent([served])
    pool = queued(other, 3)
    other_id = item(other, pool[0]).tenant_id
    with unit_of_work() as uow:
        assert claim_next(uow.session, agent_id, utcnow()) is None
        for task_id in pool:
            assert claim_task(uow.session, agent_id, other_id, task_id, utcnow()) is None
    assert router.fill(agent_id) == []
    fresh = create(other, 2)
    routed = router.route(other, fresh + pool)
    assert routed.assigned == {} and sorted(routed.queued) == sorted(fresh)
    with unit_of_work() as uow, pytest.raises(NotAssignable, match="does not serve"):
        assign_by_hand(uow.session, agent_id, other_id, pool[0], SUPERVISOR, utcnow())
    assert {item(other, t).state for t in pool + fresh} == {Status.QUEUED}
    # The same agent does get work of the tenant they serve, by each path.
    pushed = create(served, 2)
    assert set(router.route(served, pushed).assigned) == set(pushed)  # push
    sql("UPDATE bpo.agent_profiles SET presence = 'away' WHERE staff_id = :a", a=agent_id)
    mine = queued(served, 2)
    sql(
        "UPDATE bpo.agent_profiles SET presence = 'online', presence_at = now(),"
        " last_seen_at = now() WHERE staff_id = :a",
        a=agent_id,
    )
    assert {c.task_id for c in router.fill(agent_id)} == set(mine)  # pull
