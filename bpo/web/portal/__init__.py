"""The client portal, /portal/<slug>/…: every URL names its tenant.

The URL's slug binds the request's unit of work to that tenant before anything
else runs; a client session is honoured only for the tenant that issued it.
"""

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from sqlalchemy import func, select

from bpo.audit.services import record
from bpo.core.auth import ClientPrincipal
from bpo.core.errors import Forbidden, NotFound
from bpo.core.uow import bind_request_tenant, request_uow
from bpo.identity.models import ClientRole, ClientUser
from bpo.identity.services import authenticate_client
from bpo.web.access import client_required
from bpo.web.auth.forms import LoginForm
from bpo.web.auth.login import render_login, safe_next, sign_in, throttled
from tenants.models import Tenant
from tenants.naming import InvalidSlug, validate_slug

portal = Blueprint("portal", __name__, url_prefix="/portal/<slug>")


@portal.url_value_preprocessor
def bind_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    slug = (values or {}).pop("slug", None)
    try:
        bind_request_tenant(validate_slug(slug))
    except InvalidSlug:
        raise NotFound("No such client account.") from None


@portal.url_defaults
def add_slug(endpoint: str, values: dict[str, Any]) -> None:
    if "slug" not in values and g.get("bpo_tenant_slug"):
        values["slug"] = g.bpo_tenant_slug


@portal.before_request
def load_tenant() -> None:
    tenant = request_uow().session.scalar(select(Tenant).where(Tenant.slug == g.bpo_tenant_slug))
    if tenant is None:
        raise NotFound("No such client account.")
    if not tenant.is_active:
        raise Forbidden(f"The account of {tenant.name} is suspended. Contact your provider.")
    g.tenant = tenant


@portal.route("/login", methods=["GET", "POST"])
@throttled
def login() -> ResponseReturnValue:
    form = LoginForm()
    title = f"{g.tenant.name} · client sign-in"
    if not form.validate_on_submit():
        return render_login(
            form, title=title, tenant=g.tenant, status=400 if form.is_submitted() else 200
        )
    user = authenticate_client(
        request_uow().session, form.email.data or "", form.password.data or ""
    )
    if user is None:
        return render_login(
            form, title=title, tenant=g.tenant, error="E-mail or password is wrong.", status=401
        )
    record(
        request_uow().session,
        actor=f"client:{user.id}",
        action="sign_in",
        subject_type="client_user",
        subject_id=user.id,
        address=request.remote_addr,
    )
    sign_in(ClientPrincipal(user, g.tenant.slug))
    return redirect(safe_next(url_for("portal.home")))


@portal.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("portal.login"))


@portal.get("/")
@client_required
def home() -> ResponseReturnValue:
    session = request_uow().session
    people: list[ClientUser] = []
    if current_user.user.role == ClientRole.CLIENT_ADMIN:
        people = list(session.scalars(select(ClientUser).order_by(ClientUser.name)))
    user_count = session.scalar(select(func.count()).select_from(ClientUser))
    return render_template(
        "portal/home.html", tenant=g.tenant, people=people, user_count=user_count
    )


# Route modules register on the blueprint when imported.
from bpo.web.portal import batches, sla, tasks  # noqa: E402, F401
