"""The agent workspace."""

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bpo.core.uow import request_uow
from bpo.identity.models import StaffRole
from bpo.identity.services import served_tenants
from bpo.web.access import staff_required

agent = Blueprint("agent", __name__, url_prefix="/agent")


@agent.get("/")
@staff_required(StaffRole.AGENT, StaffRole.SUPERVISOR, StaffRole.ADMIN)
def home() -> ResponseReturnValue:
    served = served_tenants(request_uow().session, current_user.user)
    return render_template("agent/home.html", served=served)
