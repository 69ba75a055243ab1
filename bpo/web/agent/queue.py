"""My queue, presence, and "Next task": pages of the shared schema.

The queue comes from the work index (no client content); titles are read from
each tenant's own schema, one query per tenant (:func:`bpo.routing.desk.titles`).
"""

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bpo.core.uow import request_uow, unit_of_work
from bpo.routing import desk
from bpo.routing.rules import Presence
from bpo.web.agent import agent, desk_page
from bpo.work.states import Priority
from bpo.work.types import TYPES
from bpo.workforce.models import AgentProfile
from bpo.workforce.services import effective_presence
from tenants.db import utcnow

PRIORITIES = {p.rank: p for p in Priority}


def _render_queue(error: str | None = None, status: int = 200):
    session, staff, now = request_uow().session, current_user.user, utcnow()
    items = desk.my_queue(session, staff.id)
    profile = session.get(AgentProfile, staff.id)
    return render_template(
        "agent/queue.html",
        items=items,
        titles=desk.titles(items),
        types=TYPES,
        priorities=PRIORITIES,
        presence=effective_presence(profile, now) if profile else None,
        presences=list(Presence),
        error=error,
        now=now,
    ), status


@agent.get("/queue")
@desk_page()
def my_queue() -> ResponseReturnValue:
    return _render_queue()


@agent.post("/presence")
@desk_page()
def presence() -> ResponseReturnValue:
    try:
        chosen = Presence(request.form.get("presence", ""))
    except ValueError:
        return _render_queue(error="Choose online, away or offline.", status=400)
    if request_uow().session.get(AgentProfile, current_user.user.id) is None:
        return _render_queue(error="You have no agent profile.", status=400)
    returned = desk.change_presence(request_uow(), current_user.user, chosen)
    message = f"You are {chosen.value}."
    if returned:
        message += f" {returned} task{'s' if returned != 1 else ''} you had not started went back."
    flash(message, "success")
    return redirect(url_for("agent.my_queue"))


@agent.post("/next")
@desk_page()
def next_task() -> ResponseReturnValue:
    """Open the most urgent task the agent holds and has not started, else claim one
    from the pool, and start it. The claim commits first (it stands even if the
    start fails); the start runs in the task's own tenant's unit of work."""
    uow, staff = request_uow(), current_user.user
    found = desk.next_task(uow.session, staff, utcnow())
    if found is None:  # say why on the queue page (a reload there posts nothing again)
        flash(f"Nothing to take now. {desk.why_nothing(uow.session, staff, utcnow())}", "notice")
        return redirect(url_for("agent.my_queue"), 303)
    uow.commit()
    with unit_of_work(found.tenant_slug) as task_uow:
        desk.start(task_uow, staff, found.task_id)
    return redirect(url_for("agent.task_page", slug=found.tenant_slug, task_id=found.task_id))
