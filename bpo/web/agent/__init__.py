"""The agent workspace."""

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bpo.core.uow import request_uow
from bpo.identity.models import StaffRole
from bpo.identity.services import served_tenants
from bpo.web.access import staff_required
from bpo.work import index
from bpo.work.states import Kind, Status

agent = Blueprint("agent", __name__, url_prefix="/agent")


@agent.get("/")
@staff_required(StaffRole.AGENT, StaffRole.SUPERVISOR, StaffRole.ADMIN)
def home() -> ResponseReturnValue:
    session = request_uow().session
    served = served_tenants(session, current_user.user)
    waiting = index.open_counts(
        session, [tenant.id for tenant, _ in served], [Status.NEW, Status.QUEUED]
    )
    return render_template("agent/home.html", served=served, waiting=waiting, kinds=list(Kind))
