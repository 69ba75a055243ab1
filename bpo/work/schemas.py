"""Input and output schemas of tasks (API and portal share them)."""

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from bpo.core.fields import SANE_INSTANT, no_nul
from bpo.work.states import Priority, Status
from bpo.work.types import TYPES

EXTERNAL_REF = validate.Regexp(
    r"^[\x21-\x7e]{1,120}$", error="1 to 120 printable characters, no spaces"
)


class TaskCreateArgs(Schema):
    """What a client sends to create a task; ``payload`` is checked by the type's schema."""

    type = fields.String(required=True, validate=validate.OneOf(sorted(TYPES)))
    title = fields.String(validate=validate.Length(min=1, max=300))
    # A string checked against the values (fields.Enum costs ~15 µs a task on big batches).
    priority = fields.String(
        validate=validate.OneOf([p.value for p in Priority]), load_default=Priority.NORMAL.value
    )
    external_ref = fields.String(validate=EXTERNAL_REF)
    payload = fields.Dict(required=True)  # its keys are checked by the type's schema
    defer_until = fields.AwareDateTime(default_timezone=None, validate=SANE_INSTANT)

    @validates("title")
    def _not_blank(self, value: str, **kwargs: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")


class MessageArgs(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


class TaskListArgs(Schema):
    """Filters of the task list (query string)."""

    status = fields.List(fields.Enum(Status, by_value=True))
    kind = fields.String(validate=validate.OneOf(["data_entry", "accounting", "support"]))
    type = fields.String(validate=validate.OneOf(sorted(TYPES)))
    priority = fields.Enum(Priority, by_value=True)
    created_from = fields.Date()
    created_to = fields.Date()
    q = fields.String(validate=[validate.Length(max=200), no_nul])
    cursor = fields.String(validate=validate.Length(max=40))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class MessageSchema(Schema):
    id = fields.Integer()
    visibility = fields.String()
    author_name = fields.String()
    body = fields.String()
    created_at = fields.DateTime()


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


# What hand-in adds to a result about who and when; a client sees neither the staff
# member nor, through the result, anything but the work itself.
RESULT_META = ("handed_in_at", "by")


def delivered(task: Any) -> dict[str, Any] | None:
    """The work done on ``task`` as its client may see it: the result the agent handed
    in (keyed values, the captured invoice with its GL codes, matches, the posting
    reference, the resolution), once the task is done; None before."""
    if task.status is not Status.DONE or not task.result:
        return None
    return {k: v for k, v in task.result.items() if k not in RESULT_META}


class TaskSchema(Schema):
    """A task as its client sees it (no internal notes); ``result`` once it is done."""

    id = fields.Integer()
    kind = fields.Function(lambda t: t.kind.value)
    type = fields.String()
    title = fields.String()
    priority = fields.Function(lambda t: t.priority.value)
    status = fields.Function(lambda t: t.status.value)
    external_ref = fields.String(allow_none=True)
    payload = fields.Dict()
    flags = fields.List(fields.Dict())
    defer_until = fields.DateTime(allow_none=True)
    sla_due_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    messages = fields.Method("_public_messages")
    attachments = fields.List(fields.Nested(AttachmentSchema))
    result = fields.Function(delivered, metadata={"description": "the work done, once done"})

    def _public_messages(self, task: Any) -> list[dict[str, Any]]:
        visible = [m for m in task.messages if m.visibility != "internal_note"]
        return MessageSchema(many=True).dump(visible)


class TaskSummarySchema(TaskSchema):
    """A task in a list: no payload or thread."""

    class Meta:
        exclude = ("payload", "messages", "attachments", "result")


def public_actor(ref: str) -> str:
    """Who did it, as a client may see it: never a staff member's identity."""
    if ref.startswith(("client:", "token:")):
        return "client"
    if ref.startswith("staff:"):
        return "provider"
    return "system"


STAFF_REF = re.compile(r"\bstaff:\d+\b")


def public_reason(reason: str | None) -> str | None:
    """An event's reason as a client may read it: staff references ("routed to
    staff:4") become "an agent", as :func:`public_actor` hides who acted."""
    return None if reason is None else STAFF_REF.sub("an agent", reason)


class HistoryEventSchema(Schema):
    """One audit event of a task, as its client sees it."""

    at = fields.DateTime()
    action = fields.String()
    by = fields.Function(lambda e: public_actor(e.actor))
    from_status = fields.String(attribute="from_state", allow_none=True)
    to_status = fields.String(attribute="to_state", allow_none=True)
    reason = fields.Function(lambda e: public_reason(e.reason), allow_none=True)


class CancelArgs(Schema):
    reason = fields.String(validate=validate.Length(max=500))


class PriorityArgs(Schema):
    """Escalate (or relax) a task: its SLA clocks take the targets of the new priority,
    keeping their start and pause credit."""

    priority = fields.String(required=True, validate=validate.OneOf([p.value for p in Priority]))
    reason = fields.String(validate=validate.Length(max=500))


BATCH_MAX = 50_000  # tasks in one batch


class BatchArgs(Schema):
    """A batch of tasks: all are created, or none."""

    tasks = fields.List(
        fields.Dict(),  # each is checked as a task by the intake service
        required=True,
        validate=validate.Length(min=1, max=BATCH_MAX),
    )


class BatchItemSchema(Schema):
    """A task of a batch: enough to match it to the row it came from."""

    id = fields.Integer()
    external_ref = fields.String(allow_none=True)
    status = fields.Function(lambda t: t.status.value)


class BatchResultSchema(Schema):
    created = fields.Integer()
    existing = fields.Integer()
    items = fields.List(
        fields.Nested(BatchItemSchema),
        metadata={"description": "created tasks in input order, then the existing ones"},
    )


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSummarySchema))
    next_cursor = fields.String(allow_none=True)
