"""Task intake and life cycle. Callers own the unit of work; nothing here commits.

Every change of status goes through :func:`transition`, which refuses illegal
moves (:class:`Conflict`), writes the audit event and updates the work index in
the same transaction. Intake is idempotent on the client's external reference.
"""

import base64
import json
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache, partial
from typing import Any

from marshmallow import ValidationError
from psycopg.types.json import Jsonb
from sqlalchemy import (
    ARRAY,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bpo.audit.models import AuditEvent
from bpo.audit.services import record
from bpo.core.actors import SYSTEM, Actor
from bpo.core.errors import Conflict, NotFound, ValidationFailed
from bpo.core.fields import fast_loader
from bpo.core.uow import Deferred, UnitOfWork, unit_of
from bpo.dataentry.schemas import validate_values
from bpo.sla import services as sla
from bpo.work import index
from bpo.work.models import Attachment, DataEntryForm, Task, TaskMessage
from bpo.work.schemas import EXTERNAL_REF, TaskCreateArgs, TaskListArgs
from bpo.work.states import CANCELLABLE_BY_CLIENT, Kind, Priority, Status, can_transition
from bpo.work.types import TYPES, TaskType
from tenants.binding import copy_rows, next_ids, translate_map
from tenants.db import utcnow

CREATE_ARGS = TaskCreateArgs()
LIST_ARGS = TaskListArgs()
ROUTING_JOB = "queues.jobs.routing.route_tasks"
BIGINT_MAX = 2**63 - 1  # ids are bigint: larger numbers are simply not found
AUDIT_COLUMNS = (
    "at",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "from_state",
    "to_state",
    "reason",
    "data",
)
PLAIN_KEYS = frozenset(("type", "title", "priority", "external_ref", "payload"))
PRIORITIES = frozenset(p.value for p in Priority)
REF_PATTERN: "re.Pattern[str]" = EXTERNAL_REF.regex  # type: ignore[assignment]
# Each type's payload schema, loaded without marshmallow's bookkeeping when the input is
# valid (None otherwise, and the schema itself loads it): a third of the cost.
FAST_PAYLOADS = {name: fast_loader(t.schema) for name, t in TYPES.items()}


@dataclass
class Intake:
    task: Task
    created: bool


@dataclass
class Prepared:
    """A validated task, ready to insert."""

    values: dict[str, Any]
    task_type: TaskType
    message: str | None = None
    flags: list[dict[str, Any]] = field(default_factory=list)


# -- validation ------------------------------------------------------------------


def prepare(
    uow: UnitOfWork, data: Any, *, forms: dict[str, DataEntryForm] | None = None
) -> Prepared:
    """Validate one task's input; raises ValidationFailed naming every bad field."""
    args = _plain_args(data) if isinstance(data, dict) else None
    if args is None:
        try:
            args = CREATE_ARGS.load(data if isinstance(data, dict) else {})
        except ValidationError as exc:
            fields = _messages(exc)
            if "payload" not in fields:  # every error at once: the payload's own too
                fields.update(_payload_errors(data))
            raise ValidationFailed("the task has errors", fields=fields) from None
    task_type = TYPES[args["type"]]
    payload = FAST_PAYLOADS[task_type.name](args["payload"])
    if payload is None:  # not plainly valid: the schema loads it or names its errors
        try:
            payload = task_type.schema.load(args["payload"])
        except ValidationError as exc:
            raise ValidationFailed(
                "the task has errors", fields={"payload": _messages(exc)}
            ) from None
    form_name = None
    if task_type.name == "data_entry.record":
        form_name = _check_record(uow, payload, forms).name
    stored = json_safe(payload)  # Decimals and dates as strings, as the schema dumps them
    message = stored.pop("message", None) if task_type.name == "support.ticket" else None
    default_title = f"{form_name} record" if form_name else task_type.default_title(stored)
    return Prepared(
        values={
            "kind": task_type.kind,
            "type": task_type.name,
            "title": (args.get("title") or default_title).strip()[:300],
            "priority": Priority(args["priority"]),
            "external_ref": args.get("external_ref"),
            "payload": stored,
            "defer_until": args.get("defer_until"),
        },
        task_type=task_type,
        message=message,
    )


def _plain_args(data: dict[str, Any]) -> dict[str, Any] | None:
    """``TaskCreateArgs().load(data)`` for the common plain input, at a tenth of the cost.

    Only input every rule of the schema accepts takes this path (known keys, plain
    strings, valid values) and the result is the same (a test holds them equal);
    anything else returns None and goes through the schema, which names the errors.
    """
    if not data.keys() <= PLAIN_KEYS:
        return None
    kind, payload, priority = data.get("type"), data.get("payload"), data.get("priority", "normal")
    if type(kind) is not str or kind not in TYPES or type(payload) is not dict:
        return None
    if type(priority) is not str or priority not in PRIORITIES:
        return None
    args: dict[str, Any] = {"type": kind, "priority": priority, "payload": dict(payload)}
    if "title" in data:
        title = data["title"]
        if type(title) is not str or not 1 <= len(title) <= 300 or not title.strip():
            return None
        args["title"] = title
    if "external_ref" in data:
        ref = data["external_ref"]
        if type(ref) is not str or REF_PATTERN.match(ref) is None:
            return None
        args["external_ref"] = ref
    return args


def json_safe(value: Any) -> Any:
    """A loaded payload as JSON: Decimals as their strings, dates in ISO format.

    The same result as the type schema's ``dump`` (a test holds them equal), at a
    fraction of the cost: intake of large batches spends most of its time here.
    """
    if type(value) is str:  # most leaves: answered before the other checks
        return value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    return value


def _payload_errors(data: Any) -> dict[str, Any]:
    """The payload's errors by its type's schema, when the type is known (the task's
    other fields were refused: the client hears of everything in one answer)."""
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        return {}
    name = data.get("type")
    task_type = TYPES.get(name) if isinstance(name, str) else None
    if task_type is None:
        return {}
    try:
        task_type.schema.load(data["payload"])
    except ValidationError as exc:
        return {"payload": _messages(exc)}
    return {}


def _messages(exc: ValidationError) -> dict[str, Any]:
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}


def _check_record(
    uow: UnitOfWork, payload: dict[str, Any], forms: dict[str, DataEntryForm] | None
) -> DataEntryForm:
    form = (forms or {}).get(payload["form"]) if forms is not None else None
    if form is None:
        form = uow.session.scalar(select(DataEntryForm).where(DataEntryForm.key == payload["form"]))
    if form is None or not form.active:
        raise ValidationFailed(
            "unknown form", fields={"payload": {"form": ["no active form with this key"]}}
        )
    attachment_id = payload["source"].get("attachment_id")
    if attachment_id is not None and uow.session.get(Attachment, attachment_id) is None:
        raise ValidationFailed(
            "unknown attachment",
            fields={"payload": {"source": {"attachment_id": ["no such attachment"]}}},
        )
    if payload["values"]:
        try:
            payload["values"] = validate_values(form.fields, payload["values"], partial=True)
        except ValidationError as exc:
            raise ValidationFailed(
                "the record has errors", fields={"payload": {"values": exc.messages}}
            ) from None
    return form


# -- intake ----------------------------------------------------------------------


def create_task(uow: UnitOfWork, data: Any, actor: Actor) -> Intake:
    """Create one task, or return the existing one with the same external reference."""
    ref = data.get("external_ref") if isinstance(data, dict) else None
    if isinstance(ref, str) and (existing := _by_ref(uow, ref)) is not None:
        return Intake(existing, created=False)
    prepared = prepare(uow, data)
    try:
        with uow.savepoint():
            (created,) = _insert(uow, [prepared], actor)
        task = uow.session.get_one(Task, created.id)
    except IntegrityError:
        # Another request created the same external reference first.
        if ref is None or (existing := _by_ref(uow, ref)) is None:
            raise
        return Intake(existing, created=False)
    return Intake(task, created=True)


def _by_ref(uow: UnitOfWork, ref: str) -> Task | None:
    return uow.session.scalar(select(Task).where(Task.external_ref == ref))


@dataclass(slots=True)
class NewTask:
    """A task just written by a batch: its stored values, without an ORM object."""

    id: int
    kind: Kind
    type: str
    title: str
    priority: Priority
    status: Status
    external_ref: str | None
    payload: dict[str, Any]
    flags: list[dict[str, Any]]
    dedupe_key: str | None
    requester: str
    defer_until: datetime | None
    created_at: datetime
    updated_at: datetime
    sla_due_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass
class BatchResult:
    created: list[NewTask]
    existing: list[Task]


@dataclass
class BatchCounts:
    created: int = 0
    existing: int = 0


def create_batch(
    uow: UnitOfWork, rows: Iterable[Any], actor: Actor, *, chunk: int = 1000
) -> BatchResult:
    """Create many tasks, all or nothing.

    Every row is validated before anything is written; if any row is bad, raises
    ValidationFailed whose fields map each bad row's index to its field errors.
    Rows whose external reference already exists are returned as existing.
    """
    checker = BatchChecker(uow)
    prepared = [item for i, data in enumerate(rows) if (item := checker.check(str(i), data))]
    checker.raise_errors()
    for attempt in range(RACE_RETRIES + 1):
        existing = existing_refs(uow, list(checker.refs))
        fresh = [p for p in prepared if p.values["external_ref"] not in existing]
        created: list[NewTask] = []
        try:
            with uow.savepoint():
                for start in range(0, len(fresh), chunk):
                    created += _insert(uow, fresh[start : start + chunk], actor)
        except IntegrityError:
            # Another request created some of the same references meanwhile (the
            # unique index made us wait for its commit): read them again and retry.
            if not checker.refs or attempt == RACE_RETRIES:
                raise
            continue
        return BatchResult(created=created, existing=list(existing.values()))
    raise AssertionError("unreachable")  # the loop returns or raises


RACE_RETRIES = 3  # batches racing on the same external references


class BatchChecker:
    """Validates a batch row by row, keeping only errors and external refs.

    Streaming callers (CSV files) run it over every row first, then call
    :func:`insert_stream` with the same rows: memory does not grow with row data.
    With ``track_refs=False`` it keeps no references either (the CSV import finds
    repeated ones in a temporary table), so memory does not grow with the rows.
    """

    def __init__(self, uow: UnitOfWork, *, track_refs: bool = True) -> None:
        self.uow = uow
        self.forms = {f.key: f for f in uow.session.scalars(select(DataEntryForm))}
        self.errors: dict[str, Any] = {}
        self.refs: dict[str, str] = {}
        self.track_refs = track_refs  # off: the caller finds repeated references itself

    def check(self, key: str, data: Any) -> Prepared | None:
        try:
            item = prepare(self.uow, data, forms=self.forms)
        except ValidationFailed as exc:
            self.errors[key] = exc.fields
            return None
        ref = item.values["external_ref"]
        if ref is not None and self.track_refs:
            if ref in self.refs:
                self.errors[key] = {"external_ref": [f"repeats row {self.refs[ref]}"]}
                return None
            self.refs[ref] = key
        return item

    def raise_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(
                f"{len(self.errors)} row(s) have errors; nothing was created", fields=self.errors
            )


def insert_stream(
    uow: UnitOfWork,
    rows: Iterable[Any],
    actor: Actor,
    *,
    chunk: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> BatchCounts:
    """Insert rows already checked by :class:`BatchChecker`, chunk by chunk.

    Rows are prepared again (validation is cheap next to keeping them all), and
    each chunk's objects leave the session once written, so memory stays flat.
    """
    forms = {f.key: f for f in uow.session.scalars(select(DataEntryForm))}
    counts = BatchCounts()
    batch: list[Prepared] = []

    def flush() -> None:
        refs = [p.values["external_ref"] for p in batch if p.values["external_ref"]]
        existing = set(existing_refs(uow, refs)) if refs else set()
        fresh = [p for p in batch if p.values["external_ref"] not in existing]
        if fresh:
            _insert(uow, fresh, actor)
        counts.created += len(fresh)
        counts.existing += len(batch) - len(fresh)
        uow.session.expunge_all()
        if progress:
            progress(len(batch))
        batch.clear()

    for data in rows:
        batch.append(prepare(uow, data, forms=forms))
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return counts


def any_of(values: Iterable[str]) -> Any:
    """``= ANY(:array)``: one bound array instead of thousands of IN parameters."""
    return any_(cast(bindparam(None, list(values)), ARRAY(String)))


def existing_refs(uow: UnitOfWork, refs: list[str]) -> dict[str, Task]:
    """The tasks that already have one of ``refs`` as their external reference."""
    if not refs:
        return {}
    tasks = uow.session.scalars(select(Task).where(Task.external_ref == any_of(refs)))
    return {str(task.external_ref): task for task in tasks}


TASK_COLUMNS = (
    "id",
    "kind",
    "type",
    "title",
    "priority",
    "status",
    "external_ref",
    "payload",
    "flags",
    "dedupe_key",
    "requester",
    "defer_until",
    "sla_due_at",
    "created_at",
    "updated_at",
)


def _insert(uow: UnitOfWork, items: list[Prepared], actor: Actor) -> list[NewTask]:
    """Insert validated tasks with their first message, audit event and index row.

    Rows go in with COPY (ids drawn from the sequence first), the fastest way
    PostgreSQL offers; the returned tasks are transient (not in the session).
    """
    session, tenant_slug = uow.session, uow.tenant
    now = utcnow()
    _flag_duplicates(uow, items)
    ids = next_ids(session, Task.__table__, tenant_slug, len(items))
    tasks = [
        NewTask(
            id=task_id,
            dedupe_key=p.values.get("dedupe_key"),
            **{k: v for k, v in p.values.items() if k != "dedupe_key"},
            flags=p.flags,
            status=Status.NEW,
            requester=actor.ref,
            created_at=now,
            updated_at=now,
        )
        for task_id, p in zip(ids, items, strict=True)
    ]
    clocks = sla.plan_start(session, tasks)
    for t in tasks:
        t.sla_due_at = clocks.due.get(t.id)
    copy_rows(
        session,
        Task.__table__,
        tenant_slug,
        TASK_COLUMNS,
        (
            (
                t.id,
                t.kind.value,
                t.type,
                t.title,
                t.priority.value,
                t.status.value,
                t.external_ref,
                Jsonb(t.payload),
                Jsonb(t.flags) if t.flags else "[]",  # COPY reads the text as jsonb
                t.dedupe_key,
                t.requester,
                t.defer_until,
                t.sla_due_at,
                now,
                now,
            )
            for t in tasks
        ),
    )
    sla.write_start(session, tenant_slug or "", clocks)
    copy_rows(
        session,
        TaskMessage.__table__,
        tenant_slug,
        ("task_id", "visibility", "author", "author_name", "body", "created_at"),
        (
            (t.id, "client_message", actor.ref, actor.name, p.message, now)
            for t, p in zip(tasks, items, strict=True)
            if p.message
        ),
    )
    copy_rows(
        session,
        AuditEvent.__table__,
        tenant_slug,
        ("at", "actor", "action", "subject_type", "subject_id", "to_state", "data"),
        (
            (now, actor.ref, "created", "task", t.id, Status.NEW.value, _type_json(t.type))
            for t in tasks
        ),
    )
    _link_sources(uow, tasks)
    index.add(session, index.tenant_id(uow), tasks, clocks.next_check)
    sla.schedule(uow, clocks.next_check.values())
    by_kind: dict[str, list[int]] = {}
    for task in tasks:
        by_kind.setdefault(task.kind.value, []).append(task.id)
    for kind, kind_ids in by_kind.items():
        _route_after_commit(uow, kind, array("q", kind_ids))
    return tasks


def _route_after_commit(uow: UnitOfWork, kind: str, ids: "array[int]") -> None:
    """Queue the routing job of ``ids`` once the unit commits, as ``uow.defer`` does.

    Until then the ids wait as a compact array (8 bytes each, not ~36 as a list of
    ints): a 50,000-row CSV import holds 0.4 MB for them rather than 1.8 MB.
    """
    span = f"{ids[0]}" if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"
    tenant, dispatcher = uow.tenant, uow._dispatcher
    deferred = partial(Deferred, ROUTING_JOB, kind, job_id=f"route-{tenant}-{span}", once=False)
    uow.after_commit(lambda: dispatcher(deferred(kwargs={"tenant": tenant, "task_ids": list(ids)})))


@cache
def _type_json(type_name: str) -> str:
    """An audit event's data ``{"type": ...}`` as JSON text, once per type."""
    return json.dumps({"type": type_name})


def _link_sources(uow: UnitOfWork, tasks: list[NewTask]) -> None:
    """A record's source file, uploaded before its task, now belongs to that task."""
    for task in tasks:
        attachment_id = (task.payload.get("source") or {}).get("attachment_id")
        if attachment_id is not None:
            uow.session.execute(
                update(Attachment)
                .where(Attachment.id == attachment_id, Attachment.task_id.is_(None))
                .values(task_id=task.id)
            )


def _flag_duplicates(uow: UnitOfWork, items: list[Prepared]) -> None:
    """Flag invoices whose vendor and number match an earlier task (or an earlier row)."""
    keyed = [
        (p, p.task_type.dedupe_key(p.values["payload"])) for p in items if p.task_type.dedupe_key
    ]
    if not keyed:
        return
    keys = {key for _, key in keyed}
    seen: dict[str, int] = {
        str(key): first
        for key, first in uow.session.execute(
            select(Task.dedupe_key, func.min(Task.id))
            .where(Task.dedupe_key == any_of(keys))
            .group_by(Task.dedupe_key)
        )
    }
    batch_first: set[str] = set()
    for prepared, key in keyed:
        prepared.values["dedupe_key"] = key
        if key in seen:
            prepared.flags.append(
                {
                    "code": "possible_duplicate",
                    "task_id": seen[key],
                    "message": f"same vendor and invoice number as task {seen[key]}",
                }
            )
        elif key in batch_first:
            prepared.flags.append(
                {
                    "code": "possible_duplicate",
                    "task_id": None,
                    "message": "same vendor and invoice number as another row of this batch",
                }
            )
        batch_first.add(key)


# -- life cycle ------------------------------------------------------------------


def get_task(uow: UnitOfWork, task_id: int) -> Task:
    """The task with this id in the unit's tenant; NotFound otherwise.

    Another tenant's id is simply absent from this tenant's schema: also NotFound.
    """
    task = uow.session.get(Task, task_id) if 0 < task_id <= BIGINT_MAX else None
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


def transition(
    uow: UnitOfWork,
    task: Task,
    target: Status,
    actor: Actor,
    reason: str | None = None,
    *,
    dispatched: bool = False,
    index_values: dict[str, Any] | None = None,
) -> None:
    """Move ``task`` to ``target``: checked, audited, and mirrored in the work index
    (``index_values`` sets further index columns in the same statement)."""
    if not can_transition(task.status, target):
        raise Conflict(
            f"a {task.status.label} task cannot become {target.label}",
            fields={"status": [f"{task.status.value} -> {target.value} is not allowed"]},
        )
    record(
        uow.session,
        actor=actor.ref,
        action="transition",
        subject_type="task",
        subject_id=task.id,
        from_state=task.status.value,
        to_state=target.value,
        reason=reason,
    )
    source = task.status
    task.status = target
    task.updated_at = utcnow()
    if not target.is_open:
        task.closed_at = task.updated_at
    if sla.matters(source, target):
        due = sla.on_status(uow, [task.id], target, task.updated_at)
        if task.id in due:
            task.sla_due_at = due[task.id]
    index.update_state(
        uow.session, index.tenant_id(uow), task, dispatched=dispatched, extra=index_values
    )


def transition_many(
    session: Session,
    tenant_slug: str,
    task_ids: list[int],
    sources: Iterable[Status],
    target: Status,
    actor: Actor,
    reason: str | None = None,
    now: datetime | None = None,
) -> dict[int, Status]:
    """Move every task of ``task_ids`` that is in one of ``sources`` to ``target``
    (at ``now``, the caller's instant if it has one, so that history keeps the order
    of what one action did).

    The set-at-a-time twin of :func:`transition` for routing, which moves tasks it
    picked from the work index (in the same transaction, which already holds their
    index rows): one statement updates the tenant's tasks and writes an audit event
    per task; the caller has updated the index rows. Returns {task id: old status}
    for the tasks moved. Runs in any session: the tenant is bound per statement.
    """
    sources = [s for s in sources if can_transition(s, target)]
    if not task_ids or not sources:
        return {}
    now = now or utcnow()
    old = (
        select(Task.id, Task.status)
        .where(Task.id.in_(task_ids), Task.status.in_(sources))
        .with_for_update()
        .cte("old")
    )
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target in (Status.QUEUED, Status.EXCEPTION):
        values["assignee_id"] = None  # back in the pool, or a supervisor's: nobody holds it
    moved = (
        update(Task)
        .where(Task.id == old.c.id)
        .values(**values)
        .returning(Task.id, old.c.status.label("from_state"))
        .cte("moved")
    )
    audit = (
        insert(AuditEvent)
        .from_select(
            AUDIT_COLUMNS,
            select(
                literal(now, AuditEvent.at.type),
                literal(actor.ref),
                literal("transition"),
                literal("task"),
                moved.c.id,
                moved.c.from_state,
                literal(target.value),
                literal(reason, Text),
                literal({}, AuditEvent.data.type),
            ),
        )
        .returning(AuditEvent.subject_id, AuditEvent.from_state)
    )
    rows = session.execute(
        audit, execution_options={"schema_translate_map": translate_map(tenant_slug)}
    )
    result = {int(task_id or 0): Status(source or "") for task_id, source in rows}
    if any(sla.matters(source, target) for source in set(result.values())):
        uow = unit_of(session)
        if uow.tenant != tenant_slug:
            raise RuntimeError("SLA clocks move in the unit of work of their own tenant")
        sla.on_status(uow, sorted(result), target, now)
    return result


def mark_queued(uow: UnitOfWork, task_id: int) -> bool:
    """A new task joins the pool (the routing job's first step).

    Idempotent: a task that is no longer new (or no longer exists) is left alone.
    """
    task = uow.session.get(Task, task_id, with_for_update=True)
    if task is None or task.status != Status.NEW:
        return False
    transition(
        uow,
        task,
        Status.QUEUED,
        SYSTEM,
        "waiting for an agent",
        dispatched=True,
        index_values={"queued_at": utcnow()},
    )
    return True


def change_priority(
    uow: UnitOfWork, task: Task, priority: Any, actor: Actor, reason: str | None = None
) -> bool:
    """Set an open task's priority: audited, re-targets its SLA clocks (same start, same
    pause credit, what fired stays fired) and re-ranks it in the work index (urgent
    work asks one skill level more). Returns whether anything changed."""
    if priority not in PRIORITIES:
        raise ValidationFailed(
            "unknown priority", fields={"priority": [f"one of {', '.join(p for p in Priority)}"]}
        )
    if not task.status.is_open:
        raise Conflict("a closed task keeps its priority", fields={"status": [task.status.value]})
    new = Priority(priority)
    if new is task.priority:
        return False
    record(
        uow.session,
        actor=actor.ref,
        action="priority",
        subject_type="task",
        subject_id=task.id,
        reason=reason or f"{task.priority.value} -> {new.value}",
        before=task.priority.value,
        after=new.value,
    )
    task.priority = new
    task.updated_at = utcnow()
    sla.retarget(uow, task, task.updated_at)
    index.update_state(uow.session, index.tenant_id(uow), task)
    return True


def cancel_by_client(uow: UnitOfWork, task: Task, actor: Actor, reason: str | None = None) -> None:
    """Clients may cancel work nobody has started."""
    if task.status not in CANCELLABLE_BY_CLIENT:
        raise Conflict(
            "this task can no longer be cancelled: work on it has started or it is closed",
            fields={"status": [task.status.value]},
        )
    transition(uow, task, Status.CANCELLED, actor, reason or "cancelled by the client")


def add_client_message(uow: UnitOfWork, task: Task, actor: Actor, body: str) -> TaskMessage:
    """A client message on an open task; answering a question resumes the work."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("the message is empty", fields={"body": ["write a message"]})
    if len(body) > 20_000:
        raise ValidationFailed(
            "the message is too long", fields={"body": ["at most 20000 characters"]}
        )
    if not task.status.is_open:
        raise Conflict(
            "this task is closed; open a new one", fields={"status": [task.status.value]}
        )
    message = TaskMessage(
        task=task, visibility="client_message", author=actor.ref, author_name=actor.name, body=body
    )
    uow.session.add(message)
    if task.status == Status.WAITING_ON_CLIENT:
        transition(uow, task, Status.IN_PROGRESS, actor, "the client answered")
    uow.session.flush()
    sla.on_message(uow, task, "client_message", message.created_at or utcnow())
    return message


def history(uow: UnitOfWork, task: Task) -> list[AuditEvent]:
    return list(
        uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "task", AuditEvent.subject_id == task.id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


# -- listing ---------------------------------------------------------------------


@dataclass
class Page:
    items: list[Task]
    next_cursor: str | None


def parse_filters(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate list filters (query-string values); ValidationFailed names bad ones."""
    try:
        return LIST_ARGS.load(raw)
    except ValidationError as exc:
        # A repeatable filter (status) reports by position; the filter's name is enough.
        fields = {
            name: sorted({m for ms in v.values() for m in ms}) if isinstance(v, dict) else v
            for name, v in _messages(exc).items()
        }
        raise ValidationFailed("bad filter", fields=fields) from None


def filtered(filters: dict[str, Any]) -> Select[Task]:
    query = select(Task)
    if filters.get("status"):
        query = query.where(Task.status.in_(filters["status"]))
    if filters.get("kind"):
        query = query.where(Task.kind == filters["kind"])
    if filters.get("type"):
        query = query.where(Task.type == filters["type"])
    if filters.get("priority"):
        query = query.where(Task.priority == filters["priority"])
    if filters.get("created_from"):
        query = query.where(
            Task.created_at >= datetime.combine(filters["created_from"], time.min, tzinfo=UTC)
        )
    if filters.get("created_to"):
        query = query.where(
            Task.created_at <= datetime.combine(filters["created_to"], time.max, tzinfo=UTC)
        )
    if filters.get("q"):
        pattern = (
            "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(or_(Task.title.ilike(pattern), Task.external_ref.ilike(pattern)))
    return query


def list_tasks(uow: UnitOfWork, filters: dict[str, Any]) -> Page:
    """Newest first, ``limit`` per page, with an opaque cursor to the next page."""
    query = filtered(filters)
    cursor = filters.get("cursor")
    if cursor:
        query = query.where(Task.id < _decode_cursor(cursor))
    limit = filters.get("limit", 50)
    rows = list(uow.session.scalars(query.order_by(Task.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items, _encode_cursor(items[-1].id) if more and items else None)


def iter_tasks(uow: UnitOfWork, filters: dict[str, Any], batch: int = 1000) -> Iterator[Task]:
    """Every task matching ``filters``, newest first, fetched in batches (for exports)."""
    result = uow.session.scalars(
        filtered(filters).order_by(Task.id.desc()).execution_options(yield_per=batch)
    )
    yield from result


def _encode_cursor(task_id: int) -> str:
    return base64.urlsafe_b64encode(f"t{task_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value = int(raw[1:]) if raw.startswith("t") else 0
        if not 0 < value <= BIGINT_MAX:
            raise ValueError(cursor)
        return value
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "bad cursor", fields={"cursor": ["not a cursor this API returned"]}
        ) from None
