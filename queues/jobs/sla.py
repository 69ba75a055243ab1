"""SLA jobs on the ``sla`` queue: timers, the minute sweep, e-mail (on ``default``)."""

from datetime import datetime
from typing import Any

from queues.runtime import app_context


def check_due(tenant: str, until: str) -> int:
    """The timer of ``tenant`` for the instant ``until``: fire whatever is due by now
    (which is at least ``until``). Returns how many checkpoints this run fired."""
    from bpo.sla.sweep import run_due

    with app_context():
        datetime.fromisoformat(until)  # a malformed instant fails the job loudly
        return len(run_due(tenant))


def sweep() -> dict[str, Any]:
    """Every minute: every tenant with a checkpoint due (the backstop for lost timers)."""
    from bpo.sla.sweep import sweep as run

    with app_context():
        report = run()
        return {"tenants": report.tenants, "fired": len(report.fired)}


def deliver_mail(ids: list[int]) -> int:
    from bpo.sla.sweep import deliver_mail as deliver

    with app_context():
        return deliver([int(i) for i in ids])


def recalculate(tenant: str, actor_ref: str, actor_name: str) -> int:
    """Move ``tenant``'s open clocks onto its current policies (closed ones are never
    touched); audited by ``policies.recalculate``. Returns how many clocks changed."""
    from bpo.core.actors import Actor
    from bpo.core.uow import unit_of_work
    from bpo.sla.policies import recalculate as run

    with app_context(), unit_of_work(tenant) as uow:
        return run(uow, Actor(actor_ref, actor_name))
