"""Demo data for ``make run``: staff, three tenants, two client users each.

Each tenant also gets its own SLA calendar (New York, London, Sydney hours and
holidays, two with a lunch break) and policies before its work is created, and the
work is given a spread of SLA states and 30 days of closed history
(:mod:`bpo.demo_work`), so the supervisor dashboard has a story to tell at once.

Seeding runs once: it does nothing if the demo admin already exists. The demo
agents have distinct skills, capacities, shifts and tenants, and are set online
at every start so the demo work is routed to them.
"""

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.identity import services
from bpo.identity.models import ClientRole, ClientUser, MembershipRole, StaffRole, StaffUser
from bpo.work.types import TYPES
from tenants.provisioning import provision

DEMO_PASSWORD = "demo-pass-1"  # noqa: S105 (published demo logins, printed by `bpo up`)


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    timezone: str


TENANTS = (
    DemoTenant("acme", "Acme Retail", "America/New_York"),
    DemoTenant("globex", "Globex Logistics", "Europe/London"),
    DemoTenant("initech", "Initech Software", "Australia/Sydney"),
)

# (email, name, role, timezone, {tenant: membership role})
STAFF: tuple[tuple[str, str, StaffRole, str, dict[str, MembershipRole]], ...] = (
    ("admin@bpo.example", "Ada Admin", StaffRole.ADMIN, "UTC", {}),
    (
        "sam.supervisor@bpo.example",
        "Sam Supervisor",
        StaffRole.SUPERVISOR,
        "America/New_York",
        {"acme": MembershipRole.SUPERVISOR, "globex": MembershipRole.SUPERVISOR},
    ),
    (
        "sofia.supervisor@bpo.example",
        "Sofia Supervisor",
        StaffRole.SUPERVISOR,
        "Europe/London",
        {"globex": MembershipRole.SUPERVISOR, "initech": MembershipRole.SUPERVISOR},
    ),
    (
        "alice.agent@bpo.example",
        "Alice (data entry)",
        StaffRole.AGENT,
        "America/New_York",
        {"acme": MembershipRole.AGENT, "globex": MembershipRole.AGENT},
    ),
    (
        "bob.agent@bpo.example",
        "Bob (accounting)",
        StaffRole.AGENT,
        "America/Chicago",
        {"acme": MembershipRole.AGENT},
    ),
    (
        "carla.agent@bpo.example",
        "Carla (support)",
        StaffRole.AGENT,
        "Europe/London",
        {"globex": MembershipRole.AGENT, "initech": MembershipRole.AGENT},
    ),
    (
        "dev.agent@bpo.example",
        "Dev (accounting)",
        StaffRole.AGENT,
        "Asia/Kolkata",
        {"initech": MembershipRole.AGENT, "acme": MembershipRole.AGENT},
    ),
    (
        "erin.agent@bpo.example",
        "Erin (support)",
        StaffRole.AGENT,
        "Australia/Sydney",
        {"initech": MembershipRole.AGENT},
    ),
    (
        "femi.agent@bpo.example",
        "Femi (all-rounder)",
        StaffRole.AGENT,
        "Africa/Lagos",
        {
            "acme": MembershipRole.AGENT,
            "globex": MembershipRole.AGENT,
            "initech": MembershipRole.AGENT,
        },
    ),
)


def client_logins(tenant: DemoTenant) -> tuple[tuple[str, str, ClientRole], ...]:
    return (
        (f"admin@{tenant.slug}.example", f"{tenant.name} admin", ClientRole.CLIENT_ADMIN),
        (f"user@{tenant.slug}.example", f"{tenant.name} user", ClientRole.CLIENT_USER),
    )


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")


def _week(start: str, end: str, days: tuple[str, ...] = WEEKDAYS) -> list[dict[str, str]]:
    return [{"day": d, "start": start, "end": end} for d in days]


def _day_and_night(change: str, evening: str) -> list[dict[str, str]]:
    """A day shift from ``change`` to ``evening`` and a night shift from ``evening`` back
    to ``change``, every day: on shift around the clock, handed over at the agent's own
    hours. The demo's agents work so, so that whoever tries the demo, whenever, can sign
    in as any of them and take work; real plans are set on the supervisor's agent pages."""
    return [*_week(change, evening, ALL_DAYS), *_week(evening, change, ALL_DAYS)]


# Demo agents' skills (task type -> level 1..5), capacity (kind -> units) and shifts,
# in each agent's own time zone.
PROFILES: dict[str, dict[str, Any]] = {
    "alice.agent@bpo.example": {
        "skills": {"data_entry.record": 5, "support.ticket": 2},
        "capacity": {"data_entry": 8, "support": 2},
        "shifts": _day_and_night("08:00", "16:00"),
    },
    "bob.agent@bpo.example": {
        "skills": {"accounting.invoice": 5, "accounting.journal_entry": 4},
        "capacity": {"accounting": 8},
        "shifts": _day_and_night("09:00", "17:30"),
    },
    "carla.agent@bpo.example": {
        "skills": {"support.ticket": 5, "data_entry.record": 2},
        "capacity": {"support": 6, "data_entry": 2},
        "shifts": _day_and_night("07:00", "15:00"),
    },
    "dev.agent@bpo.example": {
        "skills": {
            "accounting.invoice": 4,
            "accounting.bank_reconciliation": 5,
            "accounting.journal_entry": 5,
        },
        "capacity": {"accounting": 12},
        "shifts": _day_and_night("10:00", "19:00"),
    },
    "erin.agent@bpo.example": {
        "skills": {"support.ticket": 4},
        "capacity": {"support": 5},
        "shifts": _day_and_night("07:00", "21:00"),
    },
    "femi.agent@bpo.example": {
        "skills": {name: 3 for name in TYPES},
        "capacity": {"data_entry": 4, "accounting": 4, "support": 4},
        "shifts": _day_and_night("09:00", "22:00"),
    },
}


def seed() -> bool:
    """Create the demo people and work unless present; returns whether anything was created.

    The demo agents are set online on every call (``bpo up`` calls it at each start)
    before any work is seeded, so the routing jobs queued after the work's commit,
    run by the workers ``bpo up`` starts next, find them; on later starts the
    reconciler's fill step hands them what waits in the pool.
    """
    created = _seed_people()
    created = _seed_profiles() or created
    _set_agents_online()
    for tenant in TENANTS:
        created = _seed_work(tenant) or created
    return created


def _set_agents_online() -> None:
    """Demo agents online now (they turn away by themselves when nobody uses them)."""
    from bpo.routing.rules import Presence
    from bpo.workforce.services import set_presence

    with unit_of_work() as uow:
        agents = uow.session.scalars(select(StaffUser).where(StaffUser.email.in_(PROFILES)))
        for staff in agents:
            set_presence(uow.session, staff, Presence.ONLINE)


def _seed_profiles() -> bool:
    """Give each demo agent their skills, capacity and shifts, once."""
    from bpo.workforce.models import AgentProfile
    from bpo.workforce.services import update_profile

    created = False
    with unit_of_work() as uow:
        for email, profile in PROFILES.items():
            staff = uow.session.scalar(select(StaffUser).where(StaffUser.email == email))
            if staff is None or uow.session.get(AgentProfile, staff.id) is not None:
                continue
            update_profile(uow.session, staff, profile)
            created = True
    return created


def _seed_work(tenant: DemoTenant) -> bool:
    from bpo.demo_sla import SLAS
    from bpo.demo_work import seed_work

    admin_email = client_logins(tenant)[0][0]
    with unit_of_work(tenant.slug) as uow:
        admin = uow.session.scalar(select(ClientUser).where(ClientUser.email == admin_email))
        if admin is None:
            return False
        requester = Actor(f"client:{admin.id}", admin.name)
    return seed_work(tenant.slug, requester, sla=SLAS.get(tenant.slug)) > 0


def _seed_people() -> bool:
    engine = current_app.extensions["bpo"].engine
    with unit_of_work() as uow:
        if uow.session.scalar(select(StaffUser.id).where(StaffUser.email == STAFF[0][0])):
            return False
    for tenant in TENANTS:
        provision(engine, tenant.slug, tenant.name, timezone=tenant.timezone)
        with unit_of_work(tenant.slug) as uow:
            for email, name, role in client_logins(tenant):
                services.create_client(
                    uow.session,
                    email=email,
                    name=name,
                    role=role,
                    password=DEMO_PASSWORD,
                    timezone=tenant.timezone,
                )
    with unit_of_work() as uow:
        for email, name, staff_role, timezone, serves in STAFF:
            staff = services.create_staff(
                uow.session,
                email=email,
                name=name,
                role=staff_role,
                password=DEMO_PASSWORD,
                timezone=timezone,
            )
            for slug, membership in serves.items():
                services.grant(
                    uow.session, staff, services.tenant_by_slug(uow.session, slug), membership
                )
    return True


def login_summary(base_url: str) -> str:
    """The demo logins, as printed by ``bpo up``."""
    lines = [f"Staff sign-in: {base_url}/login   (password for every demo login: {DEMO_PASSWORD})"]
    for email, name, staff_role, timezone, serves in STAFF:
        line = f"  {staff_role.value:<10} {email:<32} {name}"
        if staff_role is StaffRole.AGENT:
            line = f"{line:<66} {timezone}, serves {', '.join(sorted(serves))}"
        lines.append(line)
    for tenant in TENANTS:
        lines.append(f"Client portal {tenant.name}: {base_url}/portal/{tenant.slug}/login")
        for email, _name, client_role in client_logins(tenant):
            lines.append(f"  {client_role.value:<12} {email}")
    return "\n".join(lines)
