"""The client SLA report: figures against hand-computed clocks, the CSV, isolation.

Clocks are written directly with known states, instants and breaches (no sweep), so
every figure below is worked out by hand from the rows in :func:`seed_report`.
"""

import csv
import io
from datetime import UTC, datetime

from bpo.audit.models import AuditEvent
from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.identity.models import ClientRole
from bpo.sla.models import SlaClock, SlaEvent
from bpo.work import services
from tests.support.agents import new_tenant
from tests.support.factories import invoice_task, ticket_task
from tests.support.helpers import PASSWORD, login, unique
from tests.support.sla import ALWAYS_OPEN

CLIENT = Actor("client:1", "Client")


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=UTC)


def client_of(tenant: str, timezone: str = "America/New_York") -> str:
    email = f"{unique('client')}@{tenant}.test"
    with unit_of_work(tenant) as uow:
        identity.create_client(
            uow.session,
            email=email,
            name="Report reader",
            role=ClientRole.CLIENT_USER,
            password=PASSWORD,
            timezone=timezone,
        )
    return email


def _clock(session, task_id, target, start, target_seconds, state, stopped=None, breach=None):
    row = SlaClock(
        task_id=task_id,
        target=target,
        round=1 if target == "next_response" else 0,
        calendar=ALWAYS_OPEN,
        target_seconds=target_seconds,
        thresholds=[50, 75, 90],
        pause_statuses=[],
        state=state,
        started_at=start,
        stopped_at=stopped,
        fired=[50, 75, 90, 100] if breach else [],
        breached=breach is not None,
        due_at=breach,
    )
    session.add(row)
    session.flush()
    if breach is not None:
        session.add(
            SlaEvent(task_id=task_id, clock_id=row.id, kind="breached", threshold=100, at=breach)
        )
    return row


def seed_report(tenant: str, title_prefix: str = "") -> dict[str, int]:
    """Five tasks with hand-made clocks (UTC instants; the reader is in New York):

    * A invoice: resolution met in time, 2026-01-15 12:00;
    * B invoice: resolution due 2026-01-20 11:00, breached then, met 13:30 (2 h 30 late),
      with a history reason at 10:30;
    * C ticket: first response met 2026-01-31 23:30 and resolution met 2026-02-01 03:00,
      both in time: January in New York (February in UTC);
    * D ticket: resolution breached 2026-02-10 09:30 and still running;
    * E invoice: a cancelled clock (not counted) and a resolution met in time 2026-02-05.
    """
    ids = {}
    with unit_of_work(tenant) as uow:
        s = uow.session
        for key, data in (
            ("A", invoice_task(title=f"{title_prefix}Invoice A")),
            ("B", invoice_task(title=f"{title_prefix}Invoice B")),
            ("C", ticket_task(title=f"{title_prefix}Ticket C")),
            ("D", ticket_task(title=f"{title_prefix}Ticket D")),
            ("E", invoice_task(title=f"{title_prefix}Invoice E")),
        ):
            ids[key] = services.create_task(uow, data, CLIENT).task.id
        _clock(
            s,
            ids["A"],
            "resolution",
            at("2026-01-15", "10:00"),
            7200,
            "met",
            at("2026-01-15", "12:00"),
        )
        _clock(
            s,
            ids["B"],
            "resolution",
            at("2026-01-20", "10:00"),
            3600,
            "met",
            at("2026-01-20", "13:30"),
            breach=at("2026-01-20", "11:00"),
        )
        s.add(
            AuditEvent(
                actor="staff:1",
                action="transition",
                subject_type="task",
                subject_id=ids["B"],
                reason="=waiting for the bank statement",
                at=at("2026-01-20", "10:30"),
            )
        )
        _clock(
            s,
            ids["C"],
            "first_response",
            at("2026-01-31", "23:00"),
            3600,
            "met",
            at("2026-01-31", "23:30"),
        )
        _clock(
            s,
            ids["C"],
            "resolution",
            at("2026-01-31", "23:00"),
            14400,
            "met",
            at("2026-02-01", "03:00"),
        )
        _clock(
            s,
            ids["D"],
            "resolution",
            at("2026-02-10", "09:00"),
            1800,
            "running",
            breach=at("2026-02-10", "09:30"),
        )
        _clock(
            s,
            ids["E"],
            "start_by",
            at("2026-02-05", "09:00"),
            600,
            "cancelled",
            at("2026-02-05", "09:05"),
        )
        _clock(
            s,
            ids["E"],
            "resolution",
            at("2026-02-05", "09:00"),
            3600,
            "met",
            at("2026-02-05", "09:30"),
        )
    return ids


def signed_in(client, tenant: str, timezone: str = "America/New_York"):
    assert login(client, f"/portal/{tenant}/login", client_of(tenant, timezone)).status_code == 302
    return client


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_attainment_and_breaches_match_the_hand_computed_figures(client, app):
    tenant = new_tenant("rep")
    ids = seed_report(tenant)
    signed_in(client, tenant)
    page = client.get(f"/portal/{tenant}/sla")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Times in America/New_York" in html
    assert f'href="/portal/{tenant}/sla"' in html  # in the navigation

    table = rows(client.get(f"/portal/{tenant}/sla.csv?table=attainment").get_data(as_text=True))
    assert [
        (r["month"], r["kind"], r["met_in_time"], r["closed"], r["attainment_percent"])
        for r in table
    ] == [
        ("2026-02", "accounting", "1", "1", "100.0"),
        ("2026-01", "accounting", "1", "2", "50.0"),
        ("2026-01", "support", "2", "2", "100.0"),
    ]
    assert 'data-month="2026-01" data-kind="accounting"' in html and "50.0 %" in html

    export = client.get(f"/portal/{tenant}/sla.csv?table=breaches")
    assert export.headers["Content-Type"].startswith("text/csv")
    assert f"{tenant}-sla-breaches.csv" in export.headers["Content-Disposition"]
    breaches = rows(export.get_data(as_text=True))
    assert [r["task_id"] for r in breaches] == [str(ids["D"]), str(ids["B"])]
    d, b = breaches
    assert d["breached_at"] == "2026-02-10T04:30:00-05:00" and d["clock"] == "still running"
    assert "still open" in d["reason"]
    assert b["breached_at"] == "2026-01-20T06:00:00-05:00" and b["clock"] == "stopped late"
    assert b["late_business_seconds"] == str(9000)
    assert b["reason"] == ("Resolution target of 1 h missed by 2 h 30 min of business time")
    assert b["history_reason"] == "'=waiting for the bank statement"  # formula defused
    assert f'href="/portal/{tenant}/tasks/{ids["B"]}"' in html
    assert "2026-01-20 06:00 EST" in html and "waiting for the bank statement" in html


def test_months_follow_the_viewer_time_zone(client, app):
    tenant = new_tenant("rep")
    seed_report(tenant)
    signed_in(client, tenant, "UTC")
    table = rows(client.get(f"/portal/{tenant}/sla.csv?table=attainment").get_data(as_text=True))
    # In UTC ticket C's resolution (02-01 03:00) falls in February.
    assert [(r["month"], r["kind"], r["closed"]) for r in table] == [
        ("2026-02", "accounting", "1"),
        ("2026-02", "support", "1"),
        ("2026-01", "accounting", "2"),
        ("2026-01", "support", "1"),
    ]


def test_an_unknown_table_is_a_400_naming_it(client, app):
    tenant = new_tenant("rep")
    signed_in(client, tenant)
    response = client.get(f"/portal/{tenant}/sla.csv?table=secrets")
    assert response.status_code == 400 and "table" in response.get_data(as_text=True)
    empty = client.get(f"/portal/{tenant}/sla").get_data(as_text=True)
    assert "No breaches" in empty and "No finished work" in empty


def test_a_client_sees_only_its_own_report(client, app):
    mine, other = new_tenant("rep"), new_tenant("rep")
    seed_report(mine, "Mine ")
    theirs = seed_report(other, "SECRET ")
    signed_in(client, mine)
    html = client.get(f"/portal/{mine}/sla").get_data(as_text=True)
    assert "Mine Invoice B" in html and "SECRET" not in html
    export = client.get(f"/portal/{mine}/sla.csv?table=breaches").get_data(as_text=True)
    assert "SECRET" not in export
    for url in (f"/portal/{other}/sla", f"/portal/{other}/sla.csv?table=breaches"):
        response = client.get(url)
        assert response.status_code in (302, 403, 404), url
        assert "SECRET" not in response.get_data(as_text=True)
    # the other tenant's ids do not open tasks here either
    assert client.get(f"/portal/{mine}/tasks/{theirs['D'] + 1000}").status_code == 404
