"""A task's page for the agent who holds it, and every action on it.

All under ``/agent/t/<slug>/tasks/<id>``, in the request's unit of work bound to
that tenant. :func:`bpo.routing.desk.held_task` answers 404 for a task the agent
does not hold (another agent's, another tenant's id); bad input re-renders the
page with the errors next to the inputs and status 400, and since the request's
unit of work rolls back on any status of 400 or more, nothing is written.
"""

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from bpo.core.errors import AppError, flatten_fields
from bpo.core.uow import request_uow
from bpo.identity.models import StaffUser
from bpo.routing import desk, review
from bpo.web.agent import agent, desk_page
from bpo.web.agent.workforms import (
    INVOICE_HEAD,
    INVOICE_LINE,
    INVOICE_TOTALS,
    MATCH,
    NOTE,
    POSTING,
    RESOLUTION,
    parse,
    work_form,
)
from bpo.web.files import send_task_file
from bpo.work import index, services
from bpo.work.models import Task
from bpo.work.schemas import STAFF_REF, public_actor
from bpo.work.states import Status
from bpo.work.types import TYPES
from tenants.db import utcnow

BASE = "/t/<slug>/tasks/<int:task_id>"
INPUTS = {
    "invoice_head": INVOICE_HEAD,
    "invoice_line": INVOICE_LINE,
    "invoice_totals": INVOICE_TOTALS,
    "match": MATCH,
    "note": NOTE,
    "posting": POSTING,
    "resolution": RESOLUTION,
}


def _held(task_id: int) -> Task:
    task, item = desk.held_task(request_uow(), current_user.user, task_id)
    g.work_item = item
    return task


def _render(
    task: Task,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    uow, now = request_uow(), utcnow()
    events = services.history(uow, task)
    refs = [e.actor for e in events] + [
        r for e in events for r in STAFF_REF.findall(e.reason or "")
    ]
    actors = _actor_names(uow.session, refs)
    return render_template(
        "agent/task.html",
        tenant=g.tenant,
        task=task,
        item=g.work_item,
        task_type=TYPES[task.type],
        events=events,
        actors=actors,
        named=lambda text: STAFF_REF.sub(lambda m: actors.get(m.group(0), m.group(0)), text),
        handle_time=desk.handle_time(uow.session, index.tenant_id(uow), task.id, now),
        work=work_form(uow.session, task, values),
        inputs=INPUTS,
        errors=errors or {},
        message=message,
        Status=Status,
        now=now,
    ), status


def _actor_names(session: Session, refs: list[str]) -> dict[str, str]:
    """Staff names for the ``staff:<id>`` actors of a history (one query); clients and
    the platform keep their generic labels."""
    ids = {int(r.split(":", 1)[1]) for r in refs if r.startswith("staff:") and r[6:].isdigit()}
    names = {
        f"staff:{staff_id}": name
        for staff_id, name in session.execute(
            select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids))
        )
    }
    return {r: names.get(r) or public_actor(r) for r in refs}


def _failed(task: Task, exc: AppError, values: dict[str, str] | None = None) -> ResponseReturnValue:
    """Re-render after a refused action: field errors by input name, the action's status."""
    return _render(
        task,
        values=values,
        errors=flatten_fields(exc.fields),
        message=exc.message,
        status=exc.status,
    )


def _to_page(task_id: int, anchor: str = "") -> ResponseReturnValue:
    return redirect(url_for("agent.task_page", task_id=task_id) + anchor)


@agent.get(BASE)
@desk_page(tenant=True)
def task_page(task_id: int) -> ResponseReturnValue:
    task = _held(task_id)
    desk.resume(request_uow(), current_user.user, task)
    return _render(task)


@agent.post(BASE + "/start")
@desk_page(tenant=True)
def task_start(task_id: int) -> ResponseReturnValue:
    """Start an assigned task, reopen a rejected one, or take an in-progress one back up."""
    task = _held(task_id)
    reopening = task.status is Status.REJECTED
    try:
        desk.start(request_uow(), current_user.user, task_id)
    except AppError as exc:
        return _failed(task, exc)
    flash("Reopened: fix what the review found and hand it in again." if reopening else "Started.")
    return _to_page(task_id)


@agent.post(BASE + "/hand-in")
@desk_page(tenant=True)
def task_hand_in(task_id: int) -> ResponseReturnValue:
    task = _held(task_id)
    data, values = parse(task, request.form)
    try:
        desk.require_in_progress(task)  # out of turn is 409, before judging the work
        result = review.check_result(request_uow().session, task, data)
        desk.hand_in(request_uow(), current_user.user, task_id, result)
    except AppError as exc:
        return _failed(task, exc, values)
    flash(f"Task {task_id} handed in; the automated review checks it next.", "success")
    return redirect(url_for("agent.my_queue"))


@agent.post(BASE + "/reply")
@desk_page(tenant=True)
def task_reply(task_id: int) -> ResponseReturnValue:
    task = _held(task_id)
    internal = request.form.get("visibility") == "internal_note"
    try:
        desk.reply(
            request_uow(), current_user.user, task_id, request.form.get("body"), internal=internal
        )
    except AppError as exc:
        return _failed(task, exc)
    flash("Internal note added." if internal else "Reply sent to the client.", "success")
    return _to_page(task_id, "#thread")


@agent.post(BASE + "/ask")
@desk_page(tenant=True)
def task_ask(task_id: int) -> ResponseReturnValue:
    task = _held(task_id)
    try:
        desk.ask_client(request_uow(), current_user.user, task_id, request.form.get("question"))
    except AppError as exc:
        return _failed(task, exc)
    flash(f"Task {task_id} is waiting on the client; their answer resumes it.", "success")
    return redirect(url_for("agent.my_queue"))


@agent.post(BASE + "/decline")
@desk_page(tenant=True)
def task_decline(task_id: int) -> ResponseReturnValue:
    task = _held(task_id)
    try:
        desk.decline(request_uow(), current_user.user, task_id, request.form.get("reason"))
    except AppError as exc:
        return _failed(task, exc)
    flash(f"Task {task_id} went back to the pool.", "success")
    return redirect(url_for("agent.my_queue"))


@agent.get(BASE + "/attachments/<int:attachment_id>")
@desk_page(tenant=True)
def task_download(task_id: int, attachment_id: int) -> Any:
    _held(task_id)
    return send_task_file(request_uow(), task_id, attachment_id)
