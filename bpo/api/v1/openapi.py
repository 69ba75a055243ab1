"""The OpenAPI 3 document of /api/v1, generated from the same marshmallow schemas
the endpoints load and dump with (apispec's marshmallow plugin), and a docs page
rendered from that document on the server (no CDN, no JavaScript).
"""

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import jsonify, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape
from marshmallow import Schema, fields

from bpo.api.v1 import api_v1
from bpo.api.v1.schemas import ClientUserSchema
from bpo.core.fields import Money, Quantity
from bpo.work.schemas import (
    AttachmentSchema,
    BatchArgs,
    BatchResultSchema,
    CancelArgs,
    HistoryEventSchema,
    MessageArgs,
    MessageSchema,
    PriorityArgs,
    TaskCreateArgs,
    TaskListArgs,
    TaskPageSchema,
    TaskSchema,
)
from bpo.work.types import TYPES

PUBLIC_ENDPOINTS = {"api_v1.openapi_document", "api_v1.docs"}


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable, stable"})
    message = fields.String(required=True, metadata={"description": "for people"})
    # "fields" is a Schema attribute: declare it under another name, keep the key.
    field_errors = fields.Dict(
        data_key="fields",
        metadata={"description": "field name -> list of problems (nested for nested input)"},
    )


class ErrorEnvelope(Schema):
    error = fields.Nested(ErrorBody, required=True)


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": ErrorEnvelope}},
    }


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


TASK_ID = {
    "in": "path",
    "name": "task_id",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
COMMON = {
    "401": _error("no token, or an unknown, expired or revoked one"),
    "403": _error("not a tenant-scoped token, or the tenant is suspended"),
    "503": _error("PostgreSQL or Redis is unavailable; retry later"),
}
MALFORMED = {"400": _error("the body is not a JSON object, or not sent as `application/json`")}
INVALID = {"422": _error("bad input; `error.fields` names every bad field")}
BAD = {**MALFORMED, **INVALID}
MISSING = {"404": _error("no such id in this tenant")}
CONFLICT = {"409": _error("not allowed in the task's current status")}


def _operations() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "/me": {
            "get": {
                "summary": "Who the token is",
                "tags": ["account"],
                "responses": {"200": {"description": "the token, its tenant and user"}, **COMMON},
            }
        },
        "/users": {
            "get": {
                "summary": "The tenant's client users",
                "tags": ["account"],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": ClientUserSchema}},
                        },
                        "client users",
                    ),
                    **COMMON,
                },
            }
        },
        "/users/{user_id}": {
            "get": {
                "summary": "One client user of the tenant",
                "tags": ["account"],
                "parameters": [
                    {
                        "in": "path",
                        "name": "user_id",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    }
                ],
                "responses": {
                    "200": _json(ClientUserSchema, "the user"),
                    **MISSING,
                    **COMMON,
                },
            }
        },
        "/tasks": {
            "post": {
                "summary": "Create a task",
                "description": (
                    "The payload is checked by the schema of its `type`. Sending an"
                    " `external_ref` that exists returns that task with 200 instead of 201."
                ),
                "tags": ["tasks"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/TaskCreate"}}
                    },
                },
                "responses": {
                    "201": _json(TaskSchema, "created"),
                    "200": _json(TaskSchema, "the existing task with this external_ref"),
                    **BAD,
                    **COMMON,
                },
            },
            "get": {
                "summary": "List tasks, newest first",
                "description": "Filters combine with AND; follow `next_cursor` for the next page.",
                "tags": ["tasks"],
                "parameters": [{"in": "query", "schema": TaskListArgs}],
                "responses": {
                    "200": _json(TaskPageSchema, "a page of tasks"),
                    **INVALID,
                    **COMMON,
                },
            },
        },
        "/tasks/batch": {
            "post": {
                "summary": "Create up to 50,000 tasks, all or none",
                "description": (
                    "Every task is validated first; if any is bad nothing is written and"
                    " `error.fields` maps each bad task's index to its field errors."
                ),
                "tags": ["tasks"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": BatchArgs}},
                },
                "responses": {
                    "201": _json(BatchResultSchema, "created (and existing external refs)"),
                    "200": _json(BatchResultSchema, "every external ref existed already"),
                    **MALFORMED,
                    "422": _error(
                        "some tasks are bad and nothing was written: `error.fields` maps each"
                        ' bad task\'s index ("0", "1", …) to its field errors'
                    ),
                    **COMMON,
                },
            }
        },
        "/tasks/{task_id}": {
            "get": {
                "summary": "A task with its public messages and attachments",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "responses": {"200": _json(TaskSchema, "the task"), **MISSING, **COMMON},
            }
        },
        "/tasks/{task_id}/history": {
            "get": {
                "summary": "A task's history",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": HistoryEventSchema}},
                        },
                        "events, oldest first",
                    ),
                    **MISSING,
                    **COMMON,
                },
            }
        },
        "/tasks/{task_id}/messages": {
            "post": {
                "summary": "Write to the provider (answers a question and resumes the work)",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": MessageArgs}},
                },
                "responses": {
                    "201": _json(MessageSchema, "the message"),
                    **BAD,
                    **MISSING,
                    **CONFLICT,
                    **COMMON,
                },
            }
        },
        "/tasks/{task_id}/cancel": {
            "post": {
                "summary": "Cancel a task no one has started",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "requestBody": {"content": {"application/json": {"schema": CancelArgs}}},
                "responses": {
                    "200": _json(TaskSchema, "cancelled"),
                    **BAD,
                    **MISSING,
                    **CONFLICT,
                    **COMMON,
                },
            }
        },
        "/tasks/{task_id}/priority": {
            "post": {
                "summary": "Change an open task's priority (its SLA targets follow)",
                "description": "The SLA clocks take the new priority's targets, keeping their"
                " start and any paused time; warnings already fired and a breach stay.",
                "tags": ["tasks"],
                "parameters": [TASK_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PriorityArgs}},
                },
                "responses": {
                    "200": _json(TaskSchema, "the task with its new priority"),
                    **BAD,
                    **MISSING,
                    **CONFLICT,
                    **COMMON,
                },
            }
        },
        "/attachments": {
            "post": {
                "summary": "Upload a file (PDF, PNG, JPEG, TIFF, XLSX, DOCX, CSV, TXT)",
                "description": "Its id is what a data-entry record's `source.attachment_id` takes.",
                "tags": ["files"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(AttachmentSchema, "stored"),
                    "422": _error(
                        "no `file`, an empty or too large one, or a type not accepted"
                        " (`error.fields.file` says which)"
                    ),
                    **COMMON,
                },
            }
        },
        "/tasks/{task_id}/attachments/{attachment_id}": {
            "get": {
                "summary": "Download a task's file",
                "tags": ["files"],
                "parameters": [
                    TASK_ID,
                    {
                        "in": "path",
                        "name": "attachment_id",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    **MISSING,
                    **COMMON,
                },
            }
        },
    }


@cache
def document() -> dict[str, Any]:
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="BPO platform API",
        version="1",
        openapi_version="3.0.3",
        plugins=[marshmallow],
        info={
            "description": (
                "Submit and follow work for one client account. Authenticate with"
                " `Authorization: Bearer <token>` (a tenant-scoped token from your provider)."
                ' Errors share one envelope: `{"error": {"code", "message", "fields"}}`.'
            )
        },
        servers=[{"url": "/api/v1"}],
    )
    # Amounts travel as strings ("14.97"), never floats: document them so.
    for decimal_field in (Money, Quantity):
        marshmallow.map_to_openapi_type(decimal_field, "string", "decimal")
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("ErrorEnvelope", schema=ErrorEnvelope)
    payloads = []
    for name, task_type in sorted(TYPES.items()):
        component = "Payload_" + name.replace(".", "_")
        spec.components.schema(component, schema=task_type.schema)
        payloads.append({"$ref": f"#/components/schemas/{component}"})
    spec.components.schema("TaskCreate", schema=TaskCreateArgs)
    create = spec.to_dict()["components"]["schemas"]["TaskCreate"]
    create["properties"]["payload"] = {
        "description": "the payload of the task's `type` (one of the Payload_* schemas)",
        "oneOf": payloads,
    }
    for path, operations in _operations().items():
        spec.path(path=path, operations=operations)
    body = spec.to_dict()
    body["components"]["schemas"]["TaskCreate"] = create
    body["security"] = [{"bearer": []}]
    return body


@api_v1.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(document())


def _resolve(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return body["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


@api_v1.get("/docs")
def docs() -> ResponseReturnValue:
    body = document()
    return render_template(
        "api/docs.html", doc=body, resolve=lambda s: _resolve(body, s), md=_inline_code
    )


def _inline_code(text: str) -> Markup:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = str(escape(text or "")).split("`")
    html = "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
    return Markup(html)  # noqa: S704 (every part was escaped above)
