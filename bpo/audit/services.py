"""Writing audit events; callers own the transaction."""

from typing import Any

from sqlalchemy.orm import Session

from bpo.audit.models import AuditEvent


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    **data: Any,
) -> AuditEvent:
    """Add an audit event to the tenant session's transaction and return it."""
    event = AuditEvent(
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data,
    )
    session.add(event)
    return event
