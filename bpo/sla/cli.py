"""``flask sla defaults``: a new client's first SLA calendar and policies."""

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from bpo.core.errors import AppError
from bpo.core.uow import unit_of_work
from bpo.identity.services import tenant_by_slug
from bpo.sla.models import SlaPolicy
from bpo.sla.policies import save_calendar, save_policy

HOUR = 3600
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Targets in business hours, starting points a supervisor then adjusts per contract.
DEFAULTS = (
    {
        "name": "Urgent",
        "priorities": ["urgent"],
        "targets": {"first_response": HOUR, "next_response": 2 * HOUR, "resolution": 4 * HOUR},
    },
    {
        "name": "Support",
        "kinds": ["support"],
        "targets": {"first_response": 4 * HOUR, "next_response": 8 * HOUR, "resolution": 24 * HOUR},
    },
    {
        "name": "Back office",
        "kinds": ["data_entry", "accounting"],
        "targets": {"start_by": 8 * HOUR, "resolution": 16 * HOUR},
    },
)
PAUSES = {
    "next_response": ["waiting_on_client"],
    "resolution": ["waiting_on_client"],
    "start_by": ["waiting_on_client"],
}


@click.group("sla")
def sla_cli() -> None:
    """SLA calendars and policies."""


@sla_cli.command("defaults")
@click.argument("slug")
@with_appcontext
def defaults(slug: str) -> None:
    """Give tenant SLUG business hours (Mon-Fri 09:00-17:00 in its time zone) and the
    standard policies, unless it has policies already."""
    try:
        with unit_of_work() as uow:
            tenant = tenant_by_slug(uow.session, slug)
            zone = tenant.timezone
        with unit_of_work(tenant.slug) as uow:
            if uow.session.scalar(select(func.count()).select_from(SlaPolicy)):
                click.echo(f"{slug} has SLA policies already; nothing changed")
                return
            week = {day: [["09:00", "17:00"]] for day in WEEKDAYS}
            calendar = save_calendar(
                uow, "Business hours", {"timezone": zone, "week": week, "holidays": []}
            )
            for position, policy in enumerate(DEFAULTS, start=1):
                save_policy(
                    uow,
                    {
                        **policy,
                        "position": position * 10,
                        "calendar_id": calendar.id,
                        "pauses": PAUSES,
                    },
                )
    except AppError as exc:
        click.echo(f"error: {exc.message}", err=True)
        raise SystemExit(2) from None
    click.echo(f"{slug}: business hours in {zone} and {len(DEFAULTS)} policies")
