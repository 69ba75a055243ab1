"""The agent workspace, /agent/…: the home page, my queue and the task pages.

Task pages live under ``/agent/t/<slug>/…``: the URL's slug binds the request's
unit of work to that tenant before anything else runs, and :func:`desk_page`
(with ``tenant=True``) answers 404 unless the agent serves it. Every page view
counts as activity (:func:`bpo.routing.desk.touch`), which keeps an online agent
from turning away after 15 idle minutes.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, g, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from bpo.core.errors import NotFound
from bpo.core.uow import bind_request_tenant, request_uow
from bpo.identity.models import MembershipRole, StaffRole
from bpo.identity.services import served_tenants
from bpo.routing import desk
from bpo.web.access import staff_required
from bpo.work import index
from bpo.work.states import Kind, Status
from tenants.db import utcnow
from tenants.models import Tenant
from tenants.naming import InvalidSlug, validate_slug

agent = Blueprint("agent", __name__, url_prefix="/agent")
DESK_ROLES = (StaffRole.AGENT, StaffRole.SUPERVISOR, StaffRole.ADMIN)


@agent.url_value_preprocessor
def bind_tenant(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values is None or "slug" not in values:
        return  # a page of the shared schema (home, queue)
    try:
        bind_request_tenant(validate_slug(values.pop("slug")))
    except InvalidSlug:
        raise NotFound("No such client.") from None


@agent.url_defaults
def add_slug(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint.startswith("agent.task") and "slug" not in values and g.get("bpo_tenant_slug"):
        values["slug"] = g.bpo_tenant_slug


def _served_tenant() -> Tenant:
    """The URL's tenant if the signed-in agent serves it; 404 otherwise (an agent
    learns nothing of clients they do not serve, not even that they exist)."""
    slug = g.get("bpo_tenant_slug")
    staff = current_user.user
    tenant = request_uow().session.scalar(select(Tenant).where(Tenant.slug == slug))
    serves = tenant is not None and any(
        m.tenant_id == tenant.id and m.role == MembershipRole.AGENT for m in staff.memberships
    )
    if tenant is None or not serves:
        raise NotFound(desk.NOT_HELD)
    return tenant


def desk_page(*, tenant: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Staff signed in (an agent, or a supervisor looking), activity recorded; with
    ``tenant``, the URL's tenant must be one the agent serves (``g.tenant``)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @staff_required(*DESK_ROLES)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if tenant:
                g.tenant = _served_tenant()
            desk.touch(request_uow().session, current_user.user, utcnow())
            return view(*args, **kwargs)

        return wrapper

    return decorator


@agent.get("/")
@desk_page()
def home() -> ResponseReturnValue:
    session = request_uow().session
    served = served_tenants(session, current_user.user)
    waiting = index.open_counts(
        session, [tenant.id for tenant, _ in served], [Status.NEW, Status.QUEUED]
    )
    return render_template("agent/home.html", served=served, waiting=waiting, kinds=list(Kind))


# Route modules register on the blueprint when imported.
from bpo.web.agent import notifications, queue, tasks  # noqa: E402, F401
