"""The pool and exceptions page of one overseen tenant, and its actions.

Each request is bound to the tenant in the URL (one tenant per transaction), so
titles are read from that tenant's own schema; a tenant this supervisor does not
oversee, or a task or agent id from elsewhere, answers 404.
"""

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bpo.core.errors import ValidationFailed
from bpo.core.uow import request_uow
from bpo.routing import supervision
from bpo.routing.services import NotAssignable
from bpo.web.access import staff_required
from bpo.web.supervisor import supervisor
from bpo.web.supervisor.agents import SUPERVISORS, actor
from bpo.work.states import Priority, Status
from tenants.db import utcnow
from tenants.models import Tenant

BACK_TO_POOL = "pool"


def _tenant(slug: str) -> Tenant:
    """The URL's tenant (the request is bound to it), if this supervisor oversees it."""
    return supervision.overseen_tenant(request_uow().session, current_user.user, slug)


def _ids(name: str) -> list[int]:
    """The ticked task ids (none ticked: an empty list, which the views answer with a
    flash on the pool page rather than an error page)."""
    raw = request.form.getlist(name)
    try:
        return sorted({int(v) for v in raw})
    except ValueError:
        raise ValidationFailed(
            "task ids must be numbers", fields={name: ["not a number"]}
        ) from None


def _none_ticked(slug: str) -> ResponseReturnValue:
    flash("Tick the tasks first, then choose what to do with them.", "error")
    return _back(slug)


def _agent_id(raw: str | None, name: str) -> int:
    if not raw or not raw.isdigit():
        raise ValidationFailed("choose an agent", fields={name: ["choose an agent"]})
    return int(raw)


def _back(slug: str) -> ResponseReturnValue:
    return redirect(url_for("supervisor.pool", slug=slug), 303)


@supervisor.get("/tenants/<slug>/pool")
@staff_required(*SUPERVISORS)
def pool(slug: str) -> ResponseReturnValue:
    return _render(_tenant(slug))


def _render(tenant: Tenant, status: int = 200) -> ResponseReturnValue:
    uow = request_uow()
    rows = supervision.agent_rows(uow.session, [tenant], utcnow(), tenant_id=tenant.id)
    pool = supervision.pool(uow, tenant)
    return (
        render_template(
            "supervisor/pool.html",
            tenant=tenant,
            pool=pool,
            why={
                r.item.task_id: supervision.why_waiting(r.item, rows)
                for r in pool.waiting
                if r.item.state is Status.QUEUED
            },
            agents=rows,
            priorities=list(Priority),  # by rank
        ),
        status,
    )


@supervisor.post("/tenants/<slug>/pool/assign")
@staff_required(*SUPERVISORS)
def assign(slug: str) -> ResponseReturnValue:
    tenant = _tenant(slug)
    chosen = _ids("task_id")
    if not chosen:
        raise ValidationFailed("choose a task", fields={"task_id": ["choose a task"]})
    task_id = chosen[0]
    agent_id = _agent_id(request.form.get("agent_id"), "agent_id")
    try:
        over = supervision.assign(request_uow(), tenant, task_id, agent_id, actor(), utcnow())
    except NotAssignable as exc:
        flash(f"Task {task_id} was not assigned: {exc}.", "error")
        return _render(tenant, 409)  # rolls back: nothing written
    if over:
        flash(f"Task {task_id} assigned beyond the agent's capacity (flagged).", "warning")
    else:
        flash(f"Task {task_id} assigned.", "success")
    return _back(slug)


@supervisor.post("/tenants/<slug>/pool/reassign")
@staff_required(*SUPERVISORS)
def reassign(slug: str) -> ResponseReturnValue:
    tenant = _tenant(slug)
    task_ids = _ids("task_ids")
    if not task_ids:
        return _none_ticked(slug)
    target = request.form.get("to", "")
    to_agent = None if target == BACK_TO_POOL else _agent_id(target, "to")
    result = supervision.reassign(request_uow(), tenant, task_ids, to_agent, actor(), utcnow())
    where = "back to the pool" if to_agent is None else "to the chosen agent"
    if result.moved:
        flash(f"Moved {len(result.moved)} task(s) {where}.", "success")
    if result.over_capacity:
        flash(
            f"{len(result.over_capacity)} of them beyond the agent's capacity (flagged).", "warning"
        )
    for task_id, why in result.refused.items():
        flash(f"Task {task_id} stayed where it was: {why}.", "error")
    return _back(slug)


@supervisor.post("/tenants/<slug>/pool/requeue")
@staff_required(*SUPERVISORS)
def requeue(slug: str) -> ResponseReturnValue:
    tenant = _tenant(slug)
    task_ids = _ids("task_ids")
    if not task_ids:
        return _none_ticked(slug)
    done = supervision.requeue(request_uow(), tenant, task_ids, actor(), utcnow())
    flash(
        f"Requeued {len(done)} task(s) with their attempts reset.", "success" if done else "warning"
    )
    return _back(slug)
