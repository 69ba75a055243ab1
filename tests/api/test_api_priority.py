"""POST /api/v1/tasks/{id}/priority: re-targets the SLA, audited, tenant-scoped."""

from sqlalchemy import select

from bpo.audit.models import AuditEvent
from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.sla.models import SlaClock
from bpo.work.models import Task
from tests.support.agents import new_tenant
from tests.support.factories import invoice_task
from tests.support.sla import setup_sla


def _token(tenant: str) -> dict[str, str]:
    with unit_of_work() as uow:
        issued = identity.issue_token(
            uow.session, name="t", days=1, tenant=identity.tenant_by_slug(uow.session, tenant)
        )
    return {"Authorization": f"Bearer {issued.secret}"}


def test_priority_change_retargets_and_is_audited(client, app):
    tenant = new_tenant("api")
    setup_sla(tenant, targets={"resolution": 7200})
    headers = _token(tenant)
    created = client.post("/api/v1/tasks", json=invoice_task(), headers=headers).get_json()
    answer = client.post(
        f"/api/v1/tasks/{created['id']}/priority", json={"priority": "urgent"}, headers=headers
    )
    assert answer.status_code == 200 and answer.get_json()["priority"] == "urgent"
    with unit_of_work(tenant) as uow:
        assert uow.session.get(Task, created["id"]).priority.value == "urgent"
        actions = uow.session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == created["id"])
        ).all()
        assert "priority" in actions
        clock = uow.session.scalar(select(SlaClock).where(SlaClock.task_id == created["id"]))
        assert clock.target_seconds == 7200  # one catch-all policy: same target, retargeted


def test_bad_priority_names_the_field_and_other_tenants_get_404(client, app):
    a, b = new_tenant("api"), new_tenant("api")
    headers_a, headers_b = _token(a), _token(b)
    created = client.post("/api/v1/tasks", json=invoice_task(), headers=headers_a).get_json()
    bad = client.post(
        f"/api/v1/tasks/{created['id']}/priority", json={"priority": "asap"}, headers=headers_a
    )
    assert bad.status_code == 422 and "priority" in bad.get_json()["error"]["fields"]
    other = client.post(
        f"/api/v1/tasks/{created['id']}/priority", json={"priority": "high"}, headers=headers_b
    )
    assert other.status_code == 404
    with unit_of_work(a) as uow:
        assert uow.session.get(Task, created["id"]).priority.value == "normal"
