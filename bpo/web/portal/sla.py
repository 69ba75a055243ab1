"""The client's SLA report, /portal/<slug>/sla, and its CSV export.

The request's unit of work is bound to the URL's tenant and ``client_required``
checks the session belongs to it, so a client only ever reads its own clocks.
Times are shown (and exported) in the signed-in user's time zone; the figures
themselves are defined in :mod:`bpo.sla.report`.
"""

from flask import Response, g, render_template, request
from flask.typing import ResponseReturnValue

from bpo.core.errors import ValidationFailed
from bpo.core.uow import request_uow
from bpo.sla import report
from bpo.web.access import client_required
from bpo.web.filters import viewer_zone
from bpo.web.portal import portal
from tenants.db import utcnow

PAGE_BREACHES = 200  # rows on the page; the CSV has them all
TABLES = ("attainment", "breaches")


@portal.get("/sla")
@client_required
def sla_report() -> ResponseReturnValue:
    uow = request_uow()
    zone = viewer_zone()
    return render_template(
        "portal/sla.html",
        tenant=g.tenant,
        attainment=report.attainment(uow, zone),
        breaches=report.breaches(uow, utcnow(), limit=PAGE_BREACHES),
        breach_count=report.breach_count(uow),
        zone=zone.key,
        duration=report.duration,
    )


@portal.get("/sla.csv")
@client_required
def sla_csv() -> ResponseReturnValue:
    table = request.args.get("table", "attainment")
    if table not in TABLES:
        raise ValidationFailed(
            "unknown table", fields={"table": ["must be attainment or breaches"]}
        )
    uow = request_uow()
    zone = viewer_zone()
    if table == "attainment":
        body = report.attainment_csv(report.attainment(uow, zone))
    else:
        body = report.breaches_csv(report.breaches(uow, utcnow()), zone)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={g.tenant.slug}-sla-{table}.csv"},
    )
