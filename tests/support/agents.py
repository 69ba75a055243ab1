"""Agents for routing tests: a staff member with a profile, online, always on shift."""

import secrets
from collections.abc import Iterable, Mapping

from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.identity.models import MembershipRole, StaffMembership, StaffRole, StaffUser
from bpo.routing.rules import Presence
from bpo.workforce.services import profile_of, set_presence, update_profile
from tests.support.helpers import PASSWORD

# Every day, all day: an agent on shift whenever a test runs. A shift cannot start and
# end at the same time, so each day has two halves, the second running overnight to the
# next day's 00:00 (a plan to 23:59 left a minute a day off shift, and tests failing in it).
ALWAYS = [
    {"day": d, "start": start, "end": end}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    for start, end in (("00:00", "12:00"), ("12:00", "00:00"))
]
ALL_SKILLS = {
    "data_entry.record": 3,
    "accounting.invoice": 3,
    "accounting.bank_reconciliation": 3,
    "accounting.journal_entry": 3,
    "support.ticket": 3,
}
ROOMY = {"data_entry": 10, "accounting": 20, "support": 10}


def make_agent(
    tenants: Iterable[str],
    *,
    skills: Mapping[str, int] = ALL_SKILLS,
    capacity: Mapping[str, int] = ROOMY,
    presence: Presence = Presence.ONLINE,
    shifts: list[dict[str, str]] | None = None,
    overflow: Iterable[str] = (),
    name: str | None = None,
) -> int:
    """A new agent serving ``tenants``; returns their staff id."""
    tag = secrets.token_hex(4)
    overflow = set(overflow)
    with unit_of_work() as uow:
        s = uow.session
        staff = identity.create_staff(
            s,
            email=f"agent-{tag}@staff.test",
            name=name or f"Agent {tag}",
            role=StaffRole.AGENT,
            password=PASSWORD,
        )
        for slug in tenants:
            identity.grant(s, staff, identity.tenant_by_slug(s, slug), MembershipRole.AGENT)
        s.flush()
        for membership in s.query(StaffMembership).filter_by(staff_id=staff.id):
            membership.overflow = membership.tenant.slug in overflow
        profile_of(s, staff)
        update_profile(
            s,
            staff,
            {"skills": dict(skills), "capacity": dict(capacity), "shifts": shifts or ALWAYS},
        )
        set_presence(s, staff, presence)
        return staff.id


def staff(session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    assert user is not None
    return user


def new_tenant(prefix: str = "rt") -> str:
    """A freshly provisioned tenant, so agents made for one test serve nobody else's work."""
    from flask import current_app

    from tenants.provisioning import provision

    slug = f"{prefix}_{secrets.token_hex(4)}"
    provision(current_app.extensions["bpo"].engine, slug, slug.title())
    return slug
