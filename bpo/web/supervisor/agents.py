"""Supervisor pages for agent profiles: the list, and the edit page.

A supervisor sees and edits only agents serving a tenant they oversee, and grants
or revokes only those tenants; any other agent id answers 404.
"""

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.errors import ValidationFailed
from bpo.core.uow import request_uow
from bpo.identity.models import StaffMembership, StaffRole, StaffUser
from bpo.routing import router, supervision
from bpo.routing.desk import change_presence
from bpo.routing.rules import Presence
from bpo.web.access import staff_required
from bpo.web.supervisor import supervisor
from bpo.web.supervisor.forms import ProfileForm, flat_errors, parse
from bpo.work.states import Kind
from bpo.work.types import TYPES
from bpo.workforce.models import AgentProfile
from bpo.workforce.services import update_profile
from bpo.workforce.shifts import DAYS
from tenants.db import utcnow
from tenants.models import Tenant

SUPERVISORS = (StaffRole.SUPERVISOR, StaffRole.ADMIN)


def actor() -> Actor:
    user = current_user.user
    return Actor(f"staff:{user.id}", user.name)


@supervisor.get("/agents")
@staff_required(*SUPERVISORS)
def agents() -> ResponseReturnValue:
    session = request_uow().session
    tenants = supervision.overseen(session, current_user.user)
    rows = supervision.agent_rows(session, tenants, utcnow())
    return render_template("supervisor/agents.html", rows=rows, kinds=list(Kind))


@supervisor.route("/agents/<int:agent_id>", methods=["GET", "POST"])
@staff_required(*SUPERVISORS)
def edit_agent(agent_id: int) -> ResponseReturnValue:
    uow = request_uow()
    session = uow.session
    me = current_user.user
    agent = supervision.agent_in_scope(session, me, agent_id)
    tenants = supervision.overseen(session, me)
    profile = session.get(AgentProfile, agent.id)
    if request.method == "GET":
        return _render(agent, tenants, ProfileForm.of(profile, _memberships(agent), tenants))
    form = ProfileForm.posted(request.form, tenants)
    action = request.form.get("action", "save")
    if action == "add-shift":
        form.add_shift()
        return _render(agent, tenants, form)
    if action.startswith("remove-shift:"):
        index = action.partition(":")[2]
        form.remove_shift(int(index) if index.isdigit() else -1)
        return _render(agent, tenants, form)
    parsed = parse(form, tenants)
    if parsed.errors:
        return _render(agent, tenants, form, parsed.errors), 400
    try:
        update_profile(session, agent, parsed.profile)
    except ValidationFailed as exc:  # the service's own checks, should the form miss one
        return _render(agent, tenants, form, flat_errors(exc.fields)), 400
    now = utcnow()
    revoked = supervision.set_memberships(uow, agent, tenants, parsed.serves, actor(), now)
    stored = session.get(AgentProfile, agent.id)
    if parsed.presence is not None and stored is not None and parsed.presence != stored.presence:
        change_presence(uow, agent, parsed.presence)  # fills after commit when online
    else:
        router.defer_fill(uow, agent.id)  # new capacity or skills may take pool work now
    flash(f"Saved {agent.name}'s profile.", "success")
    if revoked and agent.id not in supervision.agent_ids_in_scope(session, [t.id for t in tenants]):
        flash(f"{agent.name} no longer serves any client you oversee.", "warning")
        return redirect(url_for("supervisor.agents"), 303)
    return redirect(url_for("supervisor.edit_agent", agent_id=agent.id), 303)


def _memberships(agent: StaffUser) -> list[StaffMembership]:
    session = request_uow().session
    return list(
        session.scalars(select(StaffMembership).where(StaffMembership.staff_id == agent.id))
    )


def _render(
    agent: StaffUser,
    tenants: list[Tenant],
    form: ProfileForm,
    errors: dict[str, list[str]] | None = None,
) -> str:
    others = len({m.tenant_id for m in _memberships(agent)} - {t.id for t in tenants})
    return render_template(
        "supervisor/agent_edit.html",
        agent=agent,
        tenants=tenants,
        form=form,
        errors=errors or {},
        types=list(TYPES.values()),
        kinds=list(Kind),
        days=DAYS,
        presences=list(Presence),
        other_tenants=others,
    )
