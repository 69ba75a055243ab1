"""SLA set-ups for tests: calendars and policies made through the services."""

from typing import Any

from bpo.core.uow import unit_of_work
from bpo.sla.policies import save_calendar, save_policy

# Open around the clock: business time is real time, so expectations are simple sums.
ALWAYS_OPEN = {
    "timezone": "UTC",
    "week": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "holidays": [],
}


def setup_sla(
    tenant: str,
    *,
    targets: dict[str, int] | None = None,
    pauses: dict[str, list[str]] | None = None,
    calendar: dict[str, Any] = ALWAYS_OPEN,
    **policy: Any,
) -> int:
    """One calendar and one catch-all policy for ``tenant``; returns the policy id."""
    with unit_of_work(tenant) as uow:
        cal = save_calendar(uow, "Test hours", calendar)
        row = save_policy(
            uow,
            {
                "name": policy.pop("name", "Everything"),
                "calendar_id": cal.id,
                "targets": targets
                or {"resolution": 3600, "first_response": 600, "next_response": 600},
                "pauses": pauses
                if pauses is not None
                else {"resolution": ["waiting_on_client"], "next_response": ["waiting_on_client"]},
                **policy,
            },
        )
        return row.id
