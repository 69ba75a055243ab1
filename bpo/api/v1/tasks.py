"""API endpoints for tasks: create (one or a batch), list, get, messages, cancel, files.

Every endpoint needs a tenant-scoped token; the request's unit of work is bound to
that tenant, so another tenant's ids simply do not exist here (404).

Statuses for bad input, across the whole API blueprint: a body that is not a JSON
object (or not sent as JSON) answers 400 ``bad_request``; well-formed input with bad
fields answers 422 ``validation``, the envelope's ``fields`` naming each one (for a
batch, keyed by row index). Nothing is written either way: the request's unit of
work commits only below 400, and only then are the routing jobs enqueued.
"""

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError

from bpo.api.v1 import api_v1, tenant_token
from bpo.core.actors import Actor
from bpo.core.errors import AppError, ValidationFailed
from bpo.core.uow import UnitOfWork, request_uow
from bpo.web.errors import render_error
from bpo.web.files import send_task_file
from bpo.work import attachments, services
from bpo.work.models import Task
from bpo.work.schemas import (
    BATCH_MAX,
    AttachmentSchema,
    BatchArgs,
    CancelArgs,
    HistoryEventSchema,
    MessageArgs,
    MessageSchema,
    PriorityArgs,
    TaskPageSchema,
    TaskSchema,
)

TASK = TaskSchema()


def _actor() -> Actor:
    token = tenant_token()
    return Actor(f"token:{token.id}", token.name)


class MalformedBody(AppError):
    """The body is not a JSON object at all (as opposed to one with bad fields)."""

    status = 400
    code = "bad_request"


@api_v1.errorhandler(ValidationFailed)
def _unprocessable(exc: ValidationFailed) -> ResponseReturnValue:
    """Across the API, well-formed input with bad fields answers 422 (the envelope names them).

    Pages keep 400 for the same error (they re-render the form); a body that is not
    JSON at all answers 400 (:class:`MalformedBody`).
    """
    return render_error(422, exc.code, exc.message, exc.fields)


NUL_ESCAPE = b"\\u0000"  # how JSON spells a NUL character; PostgreSQL text cannot hold one


def _nul_fields(data: Any) -> dict[str, Any]:
    """Field errors (nested like marshmallow's) for every key or string holding a NUL."""
    errors: dict[str, Any] = {}
    stack: list[tuple[tuple[str, ...], Any]] = [((), data)]  # iterative: nesting may be deep
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            _set_error(errors, path or ("body",))
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in str(key):
                    _set_error(errors, (*path, str(key)))
                else:
                    stack.append(((*path, str(key)), item))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in enumerate(value))
    return errors


def _set_error(errors: dict[str, Any], path: tuple[str, ...]) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = ["contains a NUL character (\\u0000), which cannot be stored"]


def _refuse_nul(fields: dict[str, Any]) -> None:
    if fields:
        raise ValidationFailed("text may not contain NUL characters", fields=fields)


def json_body(
    schema: Schema | None = None, *, optional: bool = False, check_nul: bool = True
) -> Any:
    """The request's JSON object, loaded by ``schema``.

    Not JSON, not an object, or the wrong content type: 400 naming ``body``. Fields
    that fail ``schema`` (or hold NUL characters, which PostgreSQL cannot store): 422.
    With ``optional``, an empty body is an empty object.
    """
    raw = request.get_data(cache=True)
    if optional and not raw.strip():
        data: Any = {}
    else:
        if not request.is_json:
            raise MalformedBody(
                "send a JSON object with Content-Type: application/json",
                fields={"body": [f"Content-Type is {request.mimetype or 'missing'}"]},
            )
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise MalformedBody(
                "the body is not valid JSON", fields={"body": ["not valid JSON"]}
            ) from None
    if not isinstance(data, dict):
        raise MalformedBody(
            "send a JSON object", fields={"body": [f"a JSON {_json_type(data)}, not an object"]}
        )
    # A cheap test first: a batch of 50,000 tasks is walked only if it holds an escaped NUL.
    if check_nul and NUL_ESCAPE in raw:
        _refuse_nul(_nul_fields(data))
    if schema is None:
        return data
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        raise ValidationFailed("the request has errors", fields=messages) from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {list: "array", str: "string", int: "number", float: "number"}.get(type(value), "value")


def _query_filters() -> dict[str, Any]:
    _refuse_nul(_nul_fields({k: v if len(v) > 1 else v[0] for k, v in request.args.lists()}))
    raw: dict[str, Any] = {k: request.args.get(k) for k in request.args if k != "status"}
    if "status" in request.args:
        raw["status"] = request.args.getlist("status")
    return services.parse_filters(raw)


@api_v1.post("/tasks")
def create_task() -> ResponseReturnValue:
    actor = _actor()
    intake = services.create_task(request_uow(), json_body(), actor)
    response = jsonify(TASK.dump(intake.task))
    response.status_code = 201 if intake.created else 200
    response.headers["Location"] = url_for("api_v1.get_task", task_id=intake.task.id)
    return response


@api_v1.post("/tasks/batch")
def create_batch() -> ResponseReturnValue:
    actor = _actor()
    with collector_paused():
        # In a function of its own: the batch's objects are freed when it returns,
        # before the collector resumes, so it does not traverse them even once.
        return _create_batch(request_uow(), actor)


def _create_batch(uow: UnitOfWork, actor: Actor) -> ResponseReturnValue:
    data = json_body(check_nul=False)
    errors = None if _plain_batch(data) else _batch_errors(uow, data)
    if errors:
        rows = sum(key.isdigit() for key in errors)
        raise ValidationFailed(
            f"{rows} row(s) have errors; nothing was created" if rows else "the request has errors",
            fields=errors,
        )
    result = services.create_batch(uow, data["tasks"], actor)
    return jsonify(batch_result(result)), 201 if result.created else 200


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration of a batch.

    A batch of 10,000 tasks allocates about a million containers (the decoded rows,
    their loaded and stored payloads, the rows written) that all live until the
    response: the collector would traverse them again and again (a fifth of the
    request's time at 10,000 rows) without finding garbage, since none of it is
    cyclic. Reference counting still frees everything as usual; the collector runs
    as normal afterwards. Requests that found it already paused leave it paused.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _plain_batch(data: dict[str, Any]) -> bool:
    """True when ``BatchArgs().load(data)`` would accept ``data`` (a test holds them equal).

    A shortcut for the common case: the schema copies each of up to 50,000 rows to
    check it is an object. Anything else is left to :func:`_batch_errors`, which also
    names rows holding NUL characters (so a body with an escaped NUL is never plain).
    """
    tasks = data.get("tasks")
    return (
        data.keys() == {"tasks"}
        and type(tasks) is list
        and 1 <= len(tasks) <= BATCH_MAX
        and all(type(row) is dict for row in tasks)
        and NUL_ESCAPE not in request.get_data(cache=True)
    )


def batch_result(result: services.BatchResult) -> dict[str, Any]:
    """``BatchResultSchema().dump`` of a batch's result (a test holds them equal), built
    directly: marshmallow's dump costs 10 µs a task, a tenth of a large batch's time."""
    items: list[services.NewTask | Task] = [*result.created, *result.existing]
    return {
        "created": len(result.created),
        "existing": len(result.existing),
        "items": [
            {"id": t.id, "external_ref": t.external_ref, "status": t.status.value} for t in items
        ],
    }


def _batch_errors(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    """The errors of a batch's shape, keyed by row index where they concern one row.

    Rows that are not objects or hold NUL characters are named here; if there are
    any, every other row is checked as well, so one answer lists every bad row.
    A clean shape returns no errors: the intake service checks the rows itself.
    """
    found: dict[str, Any] = {}
    try:
        BatchArgs().load(data)
    except ValidationError as exc:
        found.update(exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages})
    if NUL_ESCAPE in request.get_data(cache=True):
        for key, value in _nul_fields(data).items():
            if key == "tasks" and isinstance(found.get("tasks", {}), dict):
                found.setdefault("tasks", {}).update(value)
            else:
                found.setdefault(key, value)
    tasks = found.pop("tasks", None)
    errors = {**found, **({"tasks": tasks} if isinstance(tasks, list) else {})}
    if isinstance(tasks, dict):
        errors.update({str(index): row_errors for index, row_errors in tasks.items()})
        rows = data["tasks"]
        checker = services.BatchChecker(uow)
        for index, row in enumerate(rows):
            if str(index) not in errors:
                checker.check(str(index), row)
        errors.update(checker.errors)
    return errors


@api_v1.get("/tasks")
def list_tasks() -> ResponseReturnValue:
    tenant_token()
    page = services.list_tasks(request_uow(), _query_filters())
    return jsonify(TaskPageSchema().dump(page))


@api_v1.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> ResponseReturnValue:
    tenant_token()
    return jsonify(TASK.dump(services.get_task(request_uow(), task_id)))


@api_v1.get("/tasks/<int:task_id>/history")
def task_history(task_id: int) -> ResponseReturnValue:
    tenant_token()
    uow = request_uow()
    events = services.history(uow, services.get_task(uow, task_id))
    return jsonify(items=HistoryEventSchema(many=True).dump(events))


@api_v1.post("/tasks/<int:task_id>/messages")
def add_message(task_id: int) -> ResponseReturnValue:
    actor = _actor()
    uow = request_uow()
    task = services.get_task(uow, task_id)
    args = json_body(MessageArgs())
    message = services.add_client_message(uow, task, actor, args["body"])
    return jsonify(MessageSchema().dump(message)), 201


@api_v1.post("/tasks/<int:task_id>/cancel")
def cancel_task(task_id: int) -> ResponseReturnValue:
    actor = _actor()
    uow = request_uow()
    task = services.get_task(uow, task_id)
    args = json_body(CancelArgs(), optional=True)
    services.cancel_by_client(uow, task, actor, args.get("reason"))
    return jsonify(TASK.dump(task))


@api_v1.post("/tasks/<int:task_id>/priority")
def change_priority(task_id: int) -> ResponseReturnValue:
    actor = _actor()
    uow = request_uow()
    task = services.get_task(uow, task_id)
    args = json_body(PriorityArgs())
    services.change_priority(uow, task, args["priority"], actor, args.get("reason"))
    return jsonify(TASK.dump(task))


@api_v1.post("/attachments")
def upload_attachment() -> ResponseReturnValue:
    """Upload a file (multipart field ``file``); use its id as a record's source."""
    actor = _actor()
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed(
            "send the file as multipart/form-data field 'file'", fields={"file": ["missing"]}
        )
    attachment = attachments.store(request_uow(), upload.stream, upload.filename or "", actor)
    return jsonify(AttachmentSchema().dump(attachment)), 201


@api_v1.get("/tasks/<int:task_id>/attachments/<int:attachment_id>")
def download_attachment(task_id: int, attachment_id: int) -> ResponseReturnValue:
    tenant_token()
    return send_task_file(request_uow(), task_id, attachment_id)
