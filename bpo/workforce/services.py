"""Agent profiles: reading and changing them, and the snapshot routing decides on."""

from datetime import datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bpo.core.errors import ValidationFailed
from bpo.identity.models import MembershipRole, StaffMembership, StaffUser
from bpo.routing.rules import Agent, Presence
from bpo.work.models import WorkItem
from bpo.work.states import Kind, Status
from bpo.work.types import TYPES
from bpo.workforce.models import AgentProfile
from bpo.workforce.shifts import ShiftError, on_shift, parse_all
from tenants.db import utcnow

IDLE_AFTER = timedelta(minutes=15)  # online but unseen this long: away
# Statuses that hold an agent's capacity: assigned, being worked, or waiting on the client.
HOLDING = (Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_ON_CLIENT, Status.REJECTED)


class ProfileArgs(Schema):
    """What a supervisor may set on a profile."""

    skills = fields.Dict(
        keys=fields.String(validate=validate.OneOf(sorted(TYPES))),
        values=fields.Integer(validate=validate.Range(min=1, max=5)),
    )
    capacity = fields.Dict(
        keys=fields.String(validate=validate.OneOf([k.value for k in Kind])),
        values=fields.Integer(validate=validate.Range(min=0, max=100)),
    )
    shifts = fields.List(fields.Dict(), validate=validate.Length(max=50))

    @validates("shifts")
    def _shifts(self, value: list[dict[str, Any]], **kwargs: Any) -> None:
        try:
            parse_all(value)
        except ShiftError as exc:
            raise ValidationError(str(exc)) from None


PROFILE_ARGS = ProfileArgs()


def profile_of(session: Session, staff: StaffUser) -> AgentProfile:
    profile = session.get(AgentProfile, staff.id)
    if profile is None:
        profile = AgentProfile(staff_id=staff.id, skills={}, capacity={}, shifts=[])
        session.add(profile)
        session.flush()
    return profile


def update_profile(session: Session, staff: StaffUser, data: Any) -> AgentProfile:
    """Set skills, capacity and/or shifts; ValidationFailed names every bad field."""
    try:
        args = PROFILE_ARGS.load(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed("the profile has errors", fields=messages) from None
    profile = profile_of(session, staff)
    for key in ("skills", "capacity"):
        if key in args:
            setattr(profile, key, dict(args[key]))
    if "shifts" in args:
        profile.shifts = [s.as_dict() for s in parse_all(args["shifts"])]
    return profile


def set_presence(session: Session, staff: StaffUser, presence: Presence) -> None:
    profile = profile_of(session, staff)
    profile.presence, profile.presence_at = presence, utcnow()
    if presence is Presence.ONLINE:
        profile.last_seen_at = profile.presence_at


def effective_presence(profile: AgentProfile, now: datetime) -> Presence:
    """Online but not seen for ``IDLE_AFTER``: away, without anyone having to say so."""
    if profile.presence is Presence.ONLINE:
        seen = profile.last_seen_at or profile.presence_at
        if now - seen > IDLE_AFTER:
            return Presence.AWAY
    return profile.presence


def snapshot(session: Session, staff: StaffUser, now: datetime) -> Agent:
    """The agent as routing sees them at ``now``: tenants, presence, shift, skills, load."""
    profile = profile_of(session, staff)
    tenants = frozenset(
        session.scalars(
            select(StaffMembership.tenant_id).where(
                StaffMembership.staff_id == staff.id,
                StaffMembership.role == MembershipRole.AGENT,
            )
        )
    )
    load: dict[str, int] = {}
    held = session.execute(
        select(WorkItem.type, func.count())
        .where(WorkItem.assignee_id == staff.id, WorkItem.state.in_(HOLDING))
        .group_by(WorkItem.type)
    )
    for type_name, count in held:
        task_type = TYPES[type_name]
        load[task_type.kind.value] = load.get(task_type.kind.value, 0) + task_type.weight * count
    return Agent(
        id=staff.id,
        tenants=tenants,
        presence=effective_presence(profile, now),
        on_shift=on_shift(parse_all(profile.shifts), staff.timezone, now),
        skills=dict(profile.skills),
        capacity=dict(profile.capacity),
        load=load,
        last_assigned_at=profile.last_assigned_at,
    )
