"""Agent profiles: reading and changing them, presence, and the view routing decides on."""

from datetime import datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy.orm import Session

from bpo.core.errors import ValidationFailed
from bpo.identity.models import StaffUser
from bpo.routing.rules import Agent, Presence
from bpo.work.states import Kind, Status
from bpo.work.types import TYPES
from bpo.workforce.models import AgentProfile
from bpo.workforce.shifts import ShiftError, describe, overlap, parse_all
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
            shifts = parse_all(value)
        except ShiftError as exc:
            raise ValidationError(str(exc)) from None
        clash = overlap(shifts)
        if clash:
            first, second = (describe(s) for s in clash)
            raise ValidationError(f"the shifts {first} and {second} overlap")


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


def idle_presence(
    presence: Presence, last_seen_at: datetime | None, presence_at: datetime, now: datetime
) -> Presence:
    """Online but not seen for ``IDLE_AFTER``: away, without anyone having to say so."""
    if presence is Presence.ONLINE and now - (last_seen_at or presence_at) > IDLE_AFTER:
        return Presence.AWAY
    return presence


def effective_presence(profile: AgentProfile, now: datetime) -> Presence:
    return idle_presence(profile.presence, profile.last_seen_at, profile.presence_at, now)


def snapshot(session: Session, staff: StaffUser, now: datetime) -> Agent:
    """The agent as routing sees them at ``now`` (a profile is made if there is none):
    the same view the router decides on, :func:`bpo.routing.services.agent`."""
    from bpo.routing.services import agent  # routing builds on this module

    profile_of(session, staff)
    found = agent(session, staff.id, now)
    if found is None:
        raise LookupError(f"staff {staff.id} is not an active agent")
    return found
