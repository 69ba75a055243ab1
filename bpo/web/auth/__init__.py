"""Staff sign-in at /login, sign-out, and the front door."""

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from bpo.core.auth import StaffPrincipal
from bpo.core.uow import request_uow
from bpo.identity.models import StaffRole
from bpo.identity.services import authenticate_staff
from bpo.web.auth.forms import LoginForm
from bpo.web.auth.login import render_login, safe_next, sign_in, throttled

auth = Blueprint("auth", __name__)

STAFF_HOME = {
    StaffRole.ADMIN: "admin.home",
    StaffRole.SUPERVISOR: "supervisor.home",
    StaffRole.AGENT: "agent.home",
}


def staff_home(role: StaffRole) -> str:
    return url_for(STAFF_HOME[role])


@auth.get("/")
def index() -> ResponseReturnValue:
    if isinstance(current_user._get_current_object(), StaffPrincipal):
        return redirect(staff_home(current_user.role))
    return redirect(url_for("auth.login"))


@auth.route("/login", methods=["GET", "POST"])
@throttled
def login() -> ResponseReturnValue:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_login(
            form, title="Provider staff sign-in", status=400 if form.is_submitted() else 200
        )
    user = authenticate_staff(
        request_uow().session, form.email.data or "", form.password.data or ""
    )
    if user is None:
        return render_login(
            form, title="Provider staff sign-in", error="E-mail or password is wrong.", status=401
        )
    sign_in(StaffPrincipal(user))
    return redirect(safe_next(staff_home(user.role)))


@auth.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("auth.login"))
