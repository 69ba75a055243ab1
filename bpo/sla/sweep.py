"""Firing SLA checkpoints: the per-tenant timer, the minute sweep, notifications.

Timers (``enqueue_at`` jobs, one per tenant and instant) and the sweep both call
:func:`run_due`; the sweep finds the tenants with anything due from the work
index alone (``next_check_at``), so after Redis lost every timer the next sweep
still fires each checkpoint, and the unique event row keeps it to once.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from bpo.core.uow import UnitOfWork, unit_of_work
from bpo.identity.models import StaffUser
from bpo.sla.checks import Fired, check_due_counted
from bpo.sla.models import Notification
from bpo.work import index
from bpo.work.models import WorkItem
from tenants.db import utcnow
from tenants.models import Tenant

log = logging.getLogger(__name__)

MAIL_JOB = "queues.jobs.sla.deliver_mail"
CHUNK = 5000  # due clocks fired in one transaction
LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
    "start_by": "start",
}


@dataclass
class SweepReport:
    tenants: int = 0
    fired: list[Fired] = field(default_factory=list)


def run_due(tenant: str, now: datetime | None = None) -> list[Fired]:
    """Fire what is due for ``tenant`` by ``now`` and notify; returns what this call fired."""
    now = now or utcnow()
    fired: list[Fired] = []
    while True:  # in chunks, each its own transaction
        with unit_of_work(tenant) as uow:
            batch, read = check_due_counted(uow, now, limit=CHUNK)
            notify(uow, batch)
        fired += batch
        if read < CHUNK or not batch:  # nothing more is due (or others hold the rest)
            return fired


def sweep(now: datetime | None = None) -> SweepReport:
    """The backstop: every tenant with a checkpoint due by ``now``."""
    now = now or utcnow()
    with unit_of_work() as uow:
        slugs = uow.session.scalars(
            text(
                "SELECT t.slug FROM bpo.tenants t WHERE EXISTS (SELECT 1 FROM bpo.work_items w"
                " WHERE w.tenant_id = t.id AND w.next_check_at <= :now) ORDER BY t.slug"
            ),
            {"now": now},
        ).all()
    report = SweepReport(tenants=len(slugs))
    for slug in slugs:
        report.fired += run_due(slug, now)
    return report


def notify(uow: UnitOfWork, fired: list[Fired]) -> list[int]:
    """In-app notifications for each checkpoint fired, to the task's assignee and the
    tenant's supervisors; e-mail follows after commit when mail is configured."""
    if not fired:
        return []
    session = uow.session
    tenant_id = index.tenant_id(uow)
    client = session.scalar(select(Tenant.name).where(Tenant.id == tenant_id))
    supervisors = session.scalars(
        text(
            "SELECT staff_id FROM bpo.staff_memberships"
            " WHERE tenant_id = :t AND role = 'supervisor'"
        ),
        {"t": tenant_id},
    ).all()
    assignees = dict(
        session.execute(
            select(WorkItem.task_id, WorkItem.assignee_id).where(
                WorkItem.tenant_id == tenant_id,
                WorkItem.task_id.in_({f.task_id for f in fired}),
            )
        ).all()
    )
    rows: list[tuple[int, int, str, str]] = []
    for item in fired:
        what = "breached" if item.percent >= 100 else f"reached {item.percent} % of its target"
        message = f"{client}: task #{item.task_id} {LABELS.get(item.target, item.target)} {what}"
        recipients = {*supervisors, assignees.get(item.task_id)} - {None}
        kind = "sla_breach" if item.percent >= 100 else "sla_warning"
        for staff_id in sorted(recipients):
            rows.append((staff_id, item.task_id, kind, message))
    ids = _insert_notifications(session, tenant_id, rows) if rows else []
    if ids and mail_configured():
        uow.defer(MAIL_JOB, queue="default", ids=ids)
    return ids


def _insert_notifications(
    session: Session, tenant_id: int, rows: list[tuple[int, int, str, str]]
) -> list[int]:
    """Every notification of a batch in one ``INSERT ... SELECT FROM unnest(...)``."""
    staff, tasks, kinds, messages = (list(c) for c in zip(*rows, strict=True))
    source = (
        func.unnest(
            bindparam("n_staff", staff, type_=ARRAY(BigInteger)),
            bindparam("n_task", tasks, type_=ARRAY(BigInteger)),
            bindparam("n_kind", kinds, type_=ARRAY(String)),
            bindparam("n_message", messages, type_=ARRAY(String)),
        )
        .table_valued("staff_id", "task_id", "kind", "message")
        .render_derived("n")
    )
    statement = (
        insert(Notification)
        .from_select(
            ["staff_id", "tenant_id", "task_id", "kind", "message", "created_at"],
            select(
                source.c.staff_id,
                literal(tenant_id, BigInteger),
                source.c.task_id,
                source.c.kind,
                source.c.message,
                literal(utcnow(), DateTime(timezone=True)),
            ),
        )
        .returning(Notification.id)
    )
    return [int(i) for i in session.scalars(statement)]


def mail_configured() -> bool:
    config = current_app.config
    return bool(config.get("BPO_SMTP_URL") or config.get("BPO_MAIL_FILE"))


def deliver_mail(ids: list[int]) -> int:
    """Send the notifications ``ids`` by e-mail (SMTP, or appended to the mail file in
    development); each is sent once (``emailed_at``). Returns how many were sent."""
    config = current_app.config
    sent = 0
    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(Notification, StaffUser.email)
            .join(StaffUser, StaffUser.id == Notification.staff_id)
            .where(Notification.id.in_(ids), Notification.emailed_at.is_(None))
            .with_for_update(of=Notification, skip_locked=True)
        ).all()
        messages = [_message(note, email, config) for note, email in rows]
        if config.get("BPO_SMTP_URL"):
            _smtp(config["BPO_SMTP_URL"], messages)
        elif config.get("BPO_MAIL_FILE"):
            path = Path(config["BPO_MAIL_FILE"])
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                for message in messages:
                    out.write(message.as_string() + "\n")
        sent = len(messages)
        uow.session.execute(
            update(Notification)
            .where(Notification.id.in_([note.id for note, _ in rows]))
            .values(emailed_at=utcnow())
        )
    return sent


def _message(note: Notification, email: str, config: dict) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.get("BPO_MAIL_FROM", "BPO platform <no-reply@bpo.invalid>")
    message["To"] = email
    message["Subject"] = note.message
    message.set_content(note.message + "\n\nOpen the platform to act on it.")
    return message


def _smtp(url: str, messages: list[EmailMessage]) -> None:
    parts = urlsplit(url)
    with smtplib.SMTP(parts.hostname or "localhost", parts.port or 25, timeout=10) as smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls()
        if parts.username:
            smtp.login(parts.username, parts.password or "")
        for message in messages:
            smtp.send_message(message)
