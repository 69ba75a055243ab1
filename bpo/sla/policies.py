"""Managing a tenant's calendars and policies; previewing and recalculating open clocks.

Editing never rewrites a clock: each clock keeps the calendar and target it started
with. :func:`recalculate` is the explicit step that moves open clocks onto the
current policies (audited, one event per clock); :func:`preview` says beforehand
what it would change.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from bpo.audit.services import record
from bpo.core.actors import Actor
from bpo.core.errors import NotFound, ValidationFailed
from bpo.core.uow import UnitOfWork
from bpo.sla import clock as clocks
from bpo.sla.engine import Calendar, CalendarError
from bpo.sla.models import SlaCalendar, SlaClock, SlaEvent, SlaPolicy
from bpo.sla.services import (
    PAUSABLE,
    TARGETS,
    add_event,
    calendar_of,
    mirror_many,
    policies,
    policy_for,
    pure,
    store,
)
from bpo.work.models import Task
from bpo.work.states import Kind, Priority
from bpo.work.types import TYPES
from tenants.db import utcnow

MAX_TARGET = 366 * 24 * 3600  # a year of business time


class PolicyArgs(Schema):
    """What a supervisor sets on a policy; errors name the field."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    position = fields.Integer(load_default=100, validate=validate.Range(min=0, max=10_000))
    active = fields.Boolean(load_default=True)
    calendar_id = fields.Integer(required=True, strict=False)
    kinds = fields.List(fields.String(validate=validate.OneOf([k.value for k in Kind])))
    types = fields.List(fields.String(validate=validate.OneOf(sorted(TYPES))))
    priorities = fields.List(fields.String(validate=validate.OneOf([p.value for p in Priority])))
    targets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(TARGETS)),
        values=fields.Integer(validate=validate.Range(min=60, max=MAX_TARGET)),
        required=True,
    )
    thresholds = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=99)),
        load_default=lambda: [50, 75, 90],
        validate=validate.Length(max=5),
    )
    pauses = fields.Dict(
        keys=fields.String(validate=validate.OneOf(TARGETS)),
        values=fields.List(fields.String(validate=validate.OneOf([s.value for s in PAUSABLE]))),
        load_default=dict,
    )

    @validates_schema
    def _some_target(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("targets"):
            raise ValidationError("set at least one target", "targets")


POLICY_ARGS = PolicyArgs()


def _load(data: Any) -> dict[str, Any]:
    try:
        return POLICY_ARGS.load(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed("the policy has errors", fields=messages) from None


def is_region_zone(name: str) -> bool:
    """A zone named for a place (``Europe/Berlin``), or UTC: what a supervisor should pick.
    Legacy names such as ``EST`` or ``CET`` are valid IANA zones but rarely what anyone
    means (``EST`` never observes daylight saving), so the calendar pages refuse them."""
    return name == "UTC" or ("/" in name and name.split("/", 1)[0] not in ("Etc", "SystemV"))


def save_calendar(
    uow: UnitOfWork, name: Any, definition: Any, calendar_id: int | None = None
) -> SlaCalendar:
    """Create or change a calendar; ValidationFailed names every bad part."""
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        errors["name"] = ["give the calendar a name (at most 100 characters)"]
    try:
        calendar = Calendar.from_dict(definition if isinstance(definition, dict) else {})
    except CalendarError as exc:
        errors.update(exc.fields)
        calendar = None
    if calendar is not None and not is_region_zone(calendar.timezone):
        errors["timezone"] = [
            f"{calendar.timezone} is a fixed offset or an old alias that ignores daylight"
            " saving: choose the place, such as America/New_York"
        ]
    if errors or calendar is None:
        raise ValidationFailed("the calendar has errors", fields=errors)
    session = uow.session
    clash = session.scalar(select(SlaCalendar.id).where(SlaCalendar.name == name.strip()))
    if clash is not None and clash != calendar_id:
        raise ValidationFailed("name taken", fields={"name": ["another calendar has it"]})
    row = session.get(SlaCalendar, calendar_id) if calendar_id else SlaCalendar()
    if row is None:
        raise NotFound("No such calendar.")
    row.name, row.definition = name.strip(), calendar.as_dict()
    session.add(row)
    session.flush()
    return row


def save_policy(uow: UnitOfWork, data: Any, policy_id: int | None = None) -> SlaPolicy:
    """Create or change a policy; ValidationFailed names every bad field."""
    args = _load(data)
    session = uow.session
    if session.get(SlaCalendar, args["calendar_id"]) is None:
        raise ValidationFailed(
            "no such calendar", fields={"calendar_id": ["choose one of the calendars"]}
        )
    clash = session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == args["name"]))
    if clash is not None and clash != policy_id:
        raise ValidationFailed("name taken", fields={"name": ["another policy has it"]})
    row = session.get(SlaPolicy, policy_id) if policy_id else SlaPolicy()
    if row is None:
        raise NotFound("No such policy.")
    row.name, row.position, row.active = args["name"], args["position"], args["active"]
    row.calendar_id = args["calendar_id"]
    row.conditions = {k: list(args.get(k) or []) for k in ("kinds", "types", "priorities")}
    row.targets = dict(args["targets"])
    row.thresholds = sorted(set(args["thresholds"]))
    row.pauses = {k: sorted(set(v)) for k, v in args["pauses"].items()}
    session.add(row)
    session.flush()
    session.info.pop("sla_policies", None)  # the unit's cache of active policies
    return row


# -- what a change does to open work ------------------------------------------------


@dataclass(frozen=True)
class Change:
    task_id: int
    target: str
    due_before: datetime | None
    due_after: datetime | None

    @property
    def shift_seconds(self) -> float | None:
        if self.due_before is None or self.due_after is None:
            return None
        return (self.due_after - self.due_before).total_seconds()


def _planned(uow: UnitOfWork) -> list[tuple[SlaClock, Task, SlaPolicy | None]]:
    session = uow.session
    rows = session.execute(
        select(SlaClock, Task)
        .join(Task, Task.id == SlaClock.task_id)
        .where(SlaClock.state.in_(("running", "paused")))
        .order_by(SlaClock.task_id, SlaClock.id)
    ).all()
    current = policies(session)
    return [
        (row, task, policy_for(current, task.kind.value, task.type, task.priority.value))
        for row, task in rows
    ]


def _recomputed(row: SlaClock, policy: SlaPolicy | None) -> clocks.Clock | None:
    seconds = (policy.targets or {}).get(row.target) if policy else None
    if policy is None or seconds is None:
        return None
    return clocks.retarget(pure(row), seconds, tuple(policy.thresholds or (50, 75, 90)))


def preview(uow: UnitOfWork) -> list[Change]:
    """What :func:`recalculate` would do to each open clock (nothing is written)."""
    changes = []
    for row, _task, policy in _planned(uow):
        value = _recomputed(row, policy)
        if value is None or policy is None:
            continue
        after = (
            clocks.due(calendar_of(policy.calendar.definition), value)
            if value.state == "running"
            else None
        )
        if after != row.due_at or row.calendar != policy.calendar.definition:
            changes.append(Change(row.task_id, row.target, row.due_at, after))
    return changes


def recalculate(uow: UnitOfWork, actor: Actor) -> int:
    """Move every open clock onto the policy and calendar that match its task now,
    keeping its start, its pause credit and what has fired (a breach stays).
    Closed clocks are never touched. Audited; returns how many clocks changed."""
    changed: list[int] = []
    for row, _task, policy in _planned(uow):
        value = _recomputed(row, policy)
        if value is None or policy is None:
            continue
        before = row.due_at
        row.calendar = policy.calendar.definition
        row.policy_id = policy.id
        store(row, value)
        if row.due_at != before:
            add_event(uow.session, row, "recalculated", utcnow(), policy=policy.name)
            changed.append(row.task_id)
    if changed:
        mirror_many(uow, sorted(set(changed)))
    record(
        uow.session,
        actor=actor.ref,
        action="sla_recalculated",
        subject_type="sla",
        reason=f"{len(changed)} open clock(s) moved onto the current policies",
        clocks=len(changed),
    )
    return len(changed)


def events_of(uow: UnitOfWork, task_id: int) -> list[SlaEvent]:
    return list(
        uow.session.scalars(
            select(SlaEvent).where(SlaEvent.task_id == task_id).order_by(SlaEvent.at, SlaEvent.id)
        )
    )
