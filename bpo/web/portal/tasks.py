"""Portal pages for tasks: submit each type, list and search, a task's page, cancel.

Every page runs in the request's unit of work, bound to the URL's tenant; another
tenant's task ids are absent from this schema and answer 404.
"""

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from bpo.accounting.schemas import line_amounts
from bpo.core.actors import Actor
from bpo.core.errors import AppError, NotFound, ValidationFailed, flatten_fields
from bpo.core.uow import request_uow
from bpo.web.access import client_required
from bpo.web.files import send_task_file
from bpo.web.filters import viewer_zone
from bpo.web.portal import portal
from bpo.web.portal.taskforms import flat_values, layout_for, unflatten
from bpo.work import attachments, services
from bpo.work.models import DataEntryForm, Task
from bpo.work.schemas import delivered, public_actor, public_reason
from bpo.work.states import CANCELLABLE_BY_CLIENT, Kind, Priority, Status
from bpo.work.types import TYPES


def _actor() -> Actor:
    user = current_user.user
    return Actor(f"client:{user.id}", user.name)


def _forms() -> list[DataEntryForm]:
    return list(
        request_uow().session.scalars(
            select(DataEntryForm).where(DataEntryForm.active).order_by(DataEntryForm.name)
        )
    )


@portal.get("/tasks/new")
@client_required
def choose_type() -> ResponseReturnValue:
    return render_template("portal/tasks/choose.html", tenant=g.tenant, types=TYPES.values())


@portal.route("/tasks/new/<type_name>", methods=["GET", "POST"])
@client_required
def new_task(type_name: str) -> ResponseReturnValue:
    task_type = TYPES.get(type_name)
    if task_type is None:
        raise NotFound(f"There is no task type {type_name!r}.")
    forms = _forms() if task_type.kind == Kind.DATA_ENTRY else []
    form = None
    if forms:
        key = request.values.get("payload.form") or forms[0].key
        form = next((f for f in forms if f.key == key), forms[0])
    elif task_type.kind == Kind.DATA_ENTRY:
        flash("Your account has no data-entry forms yet; ask your provider to set one up.", "error")
        return redirect(url_for("portal.choose_type"))
    layout = layout_for(type_name, task_type.label, form)
    values: dict[str, str] = {"priority": Priority.NORMAL.value}
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and request.form.get("action") != "switch-form":
        data = unflatten(request.form.items(multi=True), viewer_zone())
        data.pop("action", None)
        data["type"] = type_name
        try:
            _attach_source(data)
            intake = services.create_task(request_uow(), data, _actor())
        except ValidationFailed as exc:
            errors = flatten_fields(exc.fields)
            values = flat_values(data)
            values["defer_until"] = request.form.get("defer_until", "")
            return (
                _render_new(layout, task_type, forms, form, values, errors, exc.message),
                400,
            )
        if intake.created:
            flash(f"Task {intake.task.id} was submitted.", "success")
        else:
            flash(f"You sent reference {intake.task.external_ref} before: this is that task.")
        return redirect(url_for("portal.show_task", task_id=intake.task.id))
    if request.method == "POST":  # switched the data-entry form: keep what was typed
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    return _render_new(layout, task_type, forms, form, values, errors, None)


def _attach_source(data: dict[str, Any]) -> None:
    """A record's uploaded source file is stored first; the payload names it."""
    upload = request.files.get("payload.source_file")
    if upload is None or not upload.filename:
        return
    try:
        attachment = attachments.store(request_uow(), upload.stream, upload.filename, _actor())
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.message, fields={"payload": {"source_file": [exc.message]}}
        ) from None
    source = data.setdefault("payload", {}).setdefault("source", {})
    source["attachment_id"] = attachment.id


def _render_new(layout, task_type, forms, form, values, errors, message) -> str:
    shown = {
        (part.prefix + item.name) for part in layout.parts for item in getattr(part, "inputs", ())
    }
    line_prefixes = tuple(
        f"{part.prefix}{part.name}." for part in layout.parts if hasattr(part, "columns")
    )
    line_rows = {prefix[:-1]: _rows_needed(values, prefix) for prefix in line_prefixes}
    for part in layout.parts:
        if hasattr(part, "columns"):
            key = f"{part.prefix}{part.name}"
            line_rows[key] = max(part.rows, line_rows[key])
    other = {
        path: problems
        for path, problems in errors.items()
        if path not in shown and not path.startswith(line_prefixes)
    }
    return render_template(
        "portal/tasks/new.html",
        tenant=g.tenant,
        layout=layout,
        task_type=task_type,
        forms=forms,
        form=form,
        values=values,
        errors=errors,
        other_errors=other,
        line_rows=line_rows,
        message=message,
    )


def _rows_needed(values: dict[str, str], prefix: str) -> int:
    """One more row than the highest one typed into (so there is always a free one)."""
    rows = [
        int(path[len(prefix) :].split(".", 1)[0])
        for path in values
        if path.startswith(prefix) and path[len(prefix) :].split(".", 1)[0].isdigit()
    ]
    return max(rows) + 2 if rows else 0


@portal.get("/tasks")
@client_required
def list_tasks() -> ResponseReturnValue:
    raw: dict[str, Any] = {k: v for k, v in request.args.items() if v and k != "status"}
    statuses = [s for s in request.args.getlist("status") if s]
    if statuses:
        raw["status"] = statuses
    problems: dict[str, Any] = {}
    try:
        filters = services.parse_filters(raw)
        page = services.list_tasks(request_uow(), filters)
    except ValidationFailed as exc:
        problems = exc.fields
        page = services.Page([], None)
    return render_template(
        "portal/tasks/list.html",
        tenant=g.tenant,
        page=page,
        args=request.args,
        statuses=list(Status),
        kinds=list(Kind),
        priorities=list(Priority),
        problems=problems,
        next_args={
            **{k: v for k, v in request.args.items() if k != "cursor"},
            "cursor": page.next_cursor,
        },
    ), 400 if problems else 200


def _task(task_id: int) -> Task:
    return services.get_task(request_uow(), task_id)


@portal.get("/tasks/<int:task_id>")
@client_required
def show_task(task_id: int) -> ResponseReturnValue:
    task = _task(task_id)
    return _render_task(task)


def _render_task(
    task: Task, reply_error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    events = services.history(request_uow(), task)
    messages = [m for m in task.messages if m.visibility != "internal_note"]
    question = None
    if task.status == Status.WAITING_ON_CLIENT:
        asked = [m.body for m in messages if m.visibility == "public_reply"]
        reasons = [e.reason for e in events if e.to_state == Status.WAITING_ON_CLIENT and e.reason]
        question = asked[-1] if asked else (reasons[-1] if reasons else None)
    return render_template(
        "portal/tasks/show.html",
        tenant=g.tenant,
        task=task,
        task_type=TYPES[task.type],
        events=events,
        messages=messages,
        figures=_figures(task),
        delivered=delivered(task),
        handed_in=_instant((task.result or {}).get("handed_in_at")),
        question=question,
        public_actor=public_actor,
        public_reason=public_reason,
        can_cancel=task.status in CANCELLABLE_BY_CLIENT,
        reply_error=reply_error,
    ), status


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _figures(task: Task) -> dict[str, Any]:
    """Amounts the task page shows beside what was sent, from the stored Decimal strings."""
    lines = task.payload.get("lines") or []
    try:
        if task.type == "accounting.invoice":
            return {
                "line_net": [
                    line_amounts(
                        {
                            "quantity": Decimal(line["quantity"]),
                            "unit_price": Decimal(line["unit_price"]),
                            "tax_rate": Decimal(line.get("tax_rate") or 0),
                        }
                    )[0]
                    for line in lines
                ]
            }
        if task.type == "accounting.journal_entry":
            return {
                "debits": sum((Decimal(line.get("debit") or 0) for line in lines), Decimal(0)),
                "credits": sum((Decimal(line.get("credit") or 0) for line in lines), Decimal(0)),
            }
        if task.type == "accounting.bank_reconciliation":
            return {"movement": sum((Decimal(line["amount"]) for line in lines), Decimal(0))}
        if task.type == "data_entry.record":
            form = request_uow().session.scalar(
                select(DataEntryForm).where(DataEntryForm.key == task.payload.get("form"))
            )
            return {
                "form_name": form.name if form else task.payload.get("form"),
                "labels": {f["name"]: f.get("label") or f["name"] for f in form.fields}
                if form
                else {},
            }
    except (KeyError, TypeError, InvalidOperation):
        pass  # an older payload shape: the page shows what was sent without the sums
    return {}


@portal.post("/tasks/<int:task_id>/messages")
@client_required
def reply(task_id: int) -> ResponseReturnValue:
    task = _task(task_id)
    try:
        services.add_client_message(request_uow(), task, _actor(), request.form.get("body", ""))
    except AppError as exc:
        return _render_task(task, reply_error=exc.message, status=exc.status)
    flash("Your message was sent.", "success")
    return redirect(url_for("portal.show_task", task_id=task.id) + "#messages")


@portal.post("/tasks/<int:task_id>/cancel")
@client_required
def cancel(task_id: int) -> ResponseReturnValue:
    task = _task(task_id)
    try:
        services.cancel_by_client(
            request_uow(), task, _actor(), request.form.get("reason", "").strip() or None
        )
    except AppError as exc:
        flash(exc.message, "error")
        return _render_task(task, status=exc.status)
    flash(f"Task {task.id} was cancelled.", "success")
    return redirect(url_for("portal.show_task", task_id=task.id))


@portal.get("/tasks/<int:task_id>/result.json")
@client_required
def download_result(task_id: int) -> ResponseReturnValue:
    """The work done on a finished task, as a JSON file; 404 until it is done."""
    task = _task(task_id)
    result = delivered(task)
    if result is None:
        raise NotFound("this task has no result yet: it is not done")
    body = json.dumps({"task_id": task.id, "type": task.type, "result": result}, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="task-{task.id}-result.json"'},
    )


@portal.get("/tasks/<int:task_id>/attachments/<int:attachment_id>")
@client_required
def download(task_id: int, attachment_id: int) -> ResponseReturnValue:
    return send_task_file(request_uow(), task_id, attachment_id)
