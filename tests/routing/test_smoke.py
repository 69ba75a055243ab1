"""The claim end to end: push by the routing job, pull by Next task."""

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.routing import router
from bpo.routing.services import claim_next
from bpo.work import index, services
from bpo.work.models import Task, WorkItem
from bpo.work.states import Status
from tenants.db import utcnow
from tests.support.agents import make_agent, new_tenant
from tests.support.factories import ticket_task

CLIENT = Actor("client:1", "Client")


def test_routing_assigns_a_new_task_to_an_eligible_agent(app):
    tenant = new_tenant()
    agent_id = make_agent([tenant])
    with unit_of_work(tenant) as uow:
        task_id = services.create_task(uow, ticket_task(), CLIENT).task.id
    routed = router.route(tenant, [task_id])
    assert routed.assigned == {task_id: agent_id}
    with unit_of_work(tenant) as uow:
        assert uow.session.get(Task, task_id).status == Status.ASSIGNED
        item = uow.session.get(WorkItem, (index.tenant_id(uow), task_id))
        assert item.state == Status.ASSIGNED and item.lease_until is not None
        assert item.assignee_id == agent_id


def test_pull_claims_from_the_pool(app):
    tenant = new_tenant()
    with unit_of_work(tenant) as uow:
        task_id = services.create_task(uow, ticket_task(), CLIENT).task.id
    assert router.route(tenant, [task_id]).assigned == {}  # nobody serves it yet
    agent_id = make_agent([tenant])
    with unit_of_work() as uow:
        claimed = claim_next(uow.session, agent_id, utcnow())
    assert claimed is not None and (claimed.tenant_slug, claimed.task_id) == (tenant, task_id)
    with unit_of_work() as uow:
        assert claim_next(uow.session, agent_id, utcnow()) is None  # the pool is empty
