"""The supervisor dashboard."""

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from bpo.core.uow import request_uow
from bpo.identity.models import MembershipRole, StaffMembership, StaffRole
from bpo.identity.services import served_tenants
from bpo.web.access import staff_required
from bpo.work import index
from bpo.work.states import Kind

supervisor = Blueprint("supervisor", __name__, url_prefix="/supervisor")


@supervisor.get("/")
@staff_required(StaffRole.SUPERVISOR, StaffRole.ADMIN)
def home() -> ResponseReturnValue:
    session = request_uow().session
    served = served_tenants(session, current_user.user)
    tenant_ids = [tenant.id for tenant, _ in served]
    agents = {
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
        "supervisor/home.html", served=served, agents=agents, open_work=open_work, kinds=list(Kind)
    )
