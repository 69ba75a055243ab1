"""The supervisor dashboard."""

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from bpo.core.errors import NotFound
from bpo.core.uow import bind_request_tenant, request_uow
from bpo.identity.models import MembershipRole, StaffMembership, StaffRole
from bpo.identity.services import served_tenants
from bpo.web.access import staff_required
from bpo.work import index
from bpo.work.states import Kind
from tenants.naming import InvalidSlug, validate_slug

supervisor = Blueprint("supervisor", __name__, url_prefix="/supervisor")


@supervisor.url_value_preprocessor
def bind_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Pages of one tenant (``/tenants/<slug>/…``) run in that tenant's unit of work.

    The slug stays in the view's arguments: the view still checks it is overseen.
    """
    if values is None or "slug" not in values:
        return
    try:
        bind_request_tenant(validate_slug(values["slug"]))
    except InvalidSlug:
        raise NotFound("No such client.") from None


@supervisor.get("/")
@staff_required(StaffRole.SUPERVISOR, StaffRole.ADMIN)
def home() -> ResponseReturnValue:
    session = request_uow().session
    served = served_tenants(session, current_user.user)
    tenant_ids = [tenant.id for tenant, _ in served]
    agent_counts = {
        tenant_id: count
        for tenant_id, count in session.execute(
            select(StaffMembership.tenant_id, func.count())
            .where(
                StaffMembership.tenant_id.in_(tenant_ids),
                StaffMembership.role == MembershipRole.AGENT,
            )
            .group_by(StaffMembership.tenant_id)
        )
    }
    open_work = index.open_counts(session, tenant_ids)
    return render_template(
        "supervisor/home.html",
        served=served,
        agents=agent_counts,
        open_work=open_work,
        kinds=list(Kind),
    )


# Route modules register on the blueprint when imported.
from bpo.web.supervisor import agents, dashboard, pool, sla_policies  # noqa: E402, F401
