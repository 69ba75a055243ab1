"""Provider administration: tenants and staff."""

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bpo.core.uow import request_uow
from bpo.identity.models import StaffRole, StaffUser
from bpo.web.access import staff_required
from tenants.models import Tenant

admin = Blueprint("admin", __name__, url_prefix="/admin")


@admin.get("/")
@staff_required(StaffRole.ADMIN)
def home() -> ResponseReturnValue:
    session = request_uow().session
    tenants = session.scalars(select(Tenant).order_by(Tenant.name)).all()
    staff = session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.name)).all()
    return render_template("admin/home.html", tenants=tenants, staff=staff)
