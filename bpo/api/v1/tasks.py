"""API endpoints for tasks: create (one or a batch), list, get, messages, cancel, files.

Every endpoint needs a tenant-scoped token; the request's unit of work is bound to
that tenant, so another tenant's ids simply do not exist here (404).
"""

from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError

from bpo.api.v1 import api_v1, tenant_token
from bpo.core.actors import Actor
from bpo.core.errors import ValidationFailed
from bpo.core.uow import request_uow
from bpo.web.files import send_task_file
from bpo.work import attachments, services
from bpo.work.schemas import (
    AttachmentSchema,
    BatchArgs,
    BatchResultSchema,
    CancelArgs,
    HistoryEventSchema,
    MessageArgs,
    MessageSchema,
    TaskPageSchema,
    TaskSchema,
)

TASK = TaskSchema()


def _actor() -> Actor:
    token = tenant_token()
    return Actor(f"token:{token.id}", token.name)


def json_body(schema: Schema | None = None, *, optional: bool = False) -> Any:
    """The request's JSON object, loaded by ``schema``; a clear 400 for anything else."""
    data = request.get_json(silent=True)
    if data is None and optional and not request.get_data():
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed(
            "send a JSON object with Content-Type: application/json",
            fields={"body": ["not a JSON object"]},
        )
    if schema is None:
        return data
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        raise ValidationFailed("the request has errors", fields=messages) from None


def _query_filters() -> dict[str, Any]:
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
    args = json_body(BatchArgs())
    result = services.create_batch(request_uow(), args["tasks"], actor)
    body = {
        "created": len(result.created),
        "existing": len(result.existing),
        "items": result.created + result.existing,
    }
    return jsonify(BatchResultSchema().dump(body)), 201 if result.created else 200


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
