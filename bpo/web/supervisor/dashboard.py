"""The SLA dashboard: the page, the fragment it refreshes itself with, JSON, CSV exports,
and the one-click reassign of an at-risk task.

Scope is the tenants the signed-in supervisor oversees (every tenant for an admin);
the figures come from :mod:`bpo.reporting.dashboard`, which reads the shared schema
only. The reassign form posts to a URL naming the task's tenant, so that request runs
in that tenant's unit of work like the pool page's actions.
"""

from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from bpo.core.errors import ValidationFailed
from bpo.core.uow import request_uow
from bpo.reporting import dashboard, export
from bpo.routing import supervision
from bpo.web.access import staff_required
from bpo.web.filters import viewer_zone
from bpo.web.supervisor import supervisor
from bpo.web.supervisor.agents import SUPERVISORS, actor
from bpo.web.supervisor.pool import BACK_TO_POOL
from tenants.db import utcnow

REFRESH_SECONDS = 5


def duration(seconds: int | None) -> str:
    """A short wall-clock duration: ``45s``, ``12m``, ``3h 05m``, ``2d 04h``; ``—`` for none."""
    if seconds is None:
        return "—"
    sign, s = ("-" if seconds < 0 else ""), abs(int(seconds))
    if s < 60:
        text = f"{s}s"
    elif s < 3600:
        text = f"{s // 60}m"
    elif s < 86400:
        text = f"{s // 3600}h {s % 3600 // 60:02d}m"
    else:
        text = f"{s // 86400}d {s % 86400 // 3600:02d}h"
    return sign + text


def _overview(*, titles: bool) -> dashboard.Overview:
    session = request_uow().session
    ids = [t.id for t in supervision.overseen(session, current_user.user)]
    result = dashboard.overview(session, ids, utcnow())
    return dashboard.with_titles(session, result) if titles else result


def _context() -> dict[str, Any]:
    result = _overview(titles=True)
    choices = dashboard.agents_by_tenant(
        request_uow().session, [r.tenant_id for r in result.at_risk]
    )
    return {
        "o": result,
        "choices": choices,
        "buckets": [label for label, _, _ in dashboard.BUCKETS],
        "tables": list(export.TABLES),
        "duration": duration,
        "refresh_seconds": REFRESH_SECONDS,
        "back_to_pool": BACK_TO_POOL,
    }


@supervisor.get("/sla")
@staff_required(*SUPERVISORS)
def sla() -> ResponseReturnValue:
    return render_template("supervisor/sla.html", **_context())


@supervisor.get("/sla/fragment")
@staff_required(*SUPERVISORS)
def sla_fragment() -> ResponseReturnValue:
    """The page's body alone: what the page's script swaps in every few seconds."""
    response = Response(render_template("supervisor/_sla_body.html", **_context()))
    response.headers["Cache-Control"] = "no-store"
    return response


@supervisor.get("/sla.json")
@staff_required(*SUPERVISORS)
def sla_json() -> ResponseReturnValue:
    response = jsonify(export.as_json(_overview(titles=True)))
    response.headers["Cache-Control"] = "no-store"
    return response


@supervisor.get("/sla/<table>.csv")
@staff_required(*SUPERVISORS)
def sla_csv(table: str) -> ResponseReturnValue:
    if table not in export.TABLES:
        abort(404)
    result = _overview(titles=table == "at_risk")
    return Response(
        export.csv_table(result, table, viewer_zone()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="sla-{table}-{result.today}.csv"',
            "Cache-Control": "no-store",
        },
    )


@supervisor.post("/sla/tenants/<slug>/reassign")
@staff_required(*SUPERVISORS)
def sla_reassign(slug: str) -> ResponseReturnValue:
    """Move one at-risk task to the chosen agent, or back to the pool."""
    uow = request_uow()
    tenant = supervision.overseen_tenant(uow.session, current_user.user, slug)
    raw_task, target = request.form.get("task_id", ""), request.form.get("to", "")
    if not raw_task.isdigit():
        raise ValidationFailed("choose a task", fields={"task_id": ["not a number"]})
    if target != BACK_TO_POOL and not target.isdigit():
        flash(f"Task {raw_task}: choose an agent, or back to the pool, then Move.", "error")
        return redirect(url_for("supervisor.sla"), 303)
    task_id = int(raw_task)
    to_agent = None if target == BACK_TO_POOL else int(target)
    result = supervision.reassign(uow, tenant, [task_id], to_agent, actor(), utcnow())
    if task_id in result.refused:
        flash(f"Task {task_id} stayed where it was: {result.refused[task_id]}.", "error")
    elif to_agent is None:
        flash(f"Task {task_id} of {tenant.name} went back to the pool.", "success")
    elif task_id in result.over_capacity:
        flash(f"Task {task_id} reassigned beyond the agent's capacity (flagged).", "warning")
    else:
        flash(f"Task {task_id} of {tenant.name} reassigned.", "success")
    return redirect(url_for("supervisor.sla"), 303)
