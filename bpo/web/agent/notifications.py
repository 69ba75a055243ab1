"""Notifications, /agent/notifications: what the platform told the signed-in staff
member (SLA warnings and breaches), newest first, and marking them read."""

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bpo.core.auth import StaffPrincipal
from bpo.core.errors import ValidationFailed
from bpo.core.uow import request_uow
from bpo.identity.models import StaffRole
from bpo.notifications import services
from bpo.web.agent import agent, desk_page
from tenants.db import utcnow

OVERSEERS = (StaffRole.SUPERVISOR, StaffRole.ADMIN)


@agent.app_context_processor
def unread_badge() -> dict[str, Any]:
    """``unread_notifications()`` for the staff layout's menu: one indexed count, run
    only when a staff page renders the menu."""

    def unread_notifications() -> int:
        principal = current_user._get_current_object()
        if not isinstance(principal, StaffPrincipal):
            return 0
        return services.unread_count(request_uow().session, principal.user)

    return {"unread_notifications": unread_notifications}


@agent.get("/notifications")
@desk_page()
def notifications() -> ResponseReturnValue:
    staff = current_user.user
    unread_only = request.args.get("show") == "unread"
    session = request_uow().session
    return render_template(
        "agent/notifications.html",
        notes=services.inbox(session, staff, unread_only=unread_only),
        unread=services.unread_count(session, staff),
        unread_only=unread_only,
        oversees=staff.role in OVERSEERS,
        shown=services.SHOWN,
    )


@agent.post("/notifications/read")
@desk_page()
def notifications_read() -> ResponseReturnValue:
    """Mark one notification (``id``) or all unread ones (``all``) as read."""
    staff, session = current_user.user, request_uow().session
    if request.form.get("all"):
        changed = services.mark_read(session, staff, utcnow())
    else:
        raw = request.form.get("id", "")
        if not raw.isdigit():
            raise ValidationFailed(
                "Choose a notification to mark as read.", fields={"id": ["not a number"]}
            )
        changed = services.mark_read(session, staff, utcnow(), [int(raw)])
    flash(f"Marked {changed} notification{'s' if changed != 1 else ''} as read.", "success")
    return redirect(url_for("agent.notifications", show=request.args.get("show")))
