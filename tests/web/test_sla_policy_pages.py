"""Supervisor SLA pages: calendars and policies with field errors that write nothing,
the preview's numbers, the recalculation job (closed tasks untouched), and scope.

Each test makes its own tenants; jobs deferred after commit land in the real Redis
(no worker runs here), and the recalculation job is then run in-process.
"""

from datetime import timedelta

from sqlalchemy import func, select

from bpo.audit.models import AuditEvent
from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.sla import services as sla
from bpo.sla.models import SlaCalendar, SlaClock, SlaPolicy
from bpo.sla.policies import save_calendar
from bpo.work import services
from bpo.work.states import Status
from queues.connection import get_queue
from queues.jobs import sla as sla_jobs
from tests.support.agents import new_tenant
from tests.support.factories import invoice_task
from tests.support.helpers import csrf_token, login
from tests.support.sla import ALWAYS_OPEN, setup_sla
from tests.web.test_supervisor_routing import supervisor_of

CLIENT = Actor("client:1", "Client")


def signed_in(client, *slugs: str):
    assert login(client, "/login", supervisor_of(*slugs)).status_code == 302
    return client


def post(client, url: str, data: dict):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, url)})


def count(tenant: str, model) -> int:
    with unit_of_work(tenant) as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def calendar_form(**overrides) -> dict:
    data = {
        "name": "Office hours",
        "timezone": "America/New_York",
        "week.mon.0.start": "09:00",
        "week.mon.0.end": "12:00",
        "week.mon.1.start": "13:00",
        "week.mon.1.end": "17:00",
        "week.tue.0.start": "09:00",
        "week.tue.0.end": "17:00",
        "holidays": "2026-12-25\n2026-01-01",
    }
    data.update(overrides)
    return data


def policy_form(calendar_id: int, **overrides) -> dict:
    data = {
        "name": "Accounting",
        "position": "10",
        "active": "1",
        "calendar_id": str(calendar_id),
        "kinds": ["accounting"],
        "targets.resolution.hours": "2",
        "targets.resolution.minutes": "30",
        "thresholds": "50, 80",
        "pauses.resolution": ["waiting_on_client"],
    }
    data.update(overrides)
    return data


def test_a_bad_calendar_names_each_part_and_writes_nothing(client, app):
    tenant = new_tenant("slp")
    signed_in(client, tenant)
    url = f"/supervisor/tenants/{tenant}/sla/calendars/new"
    bad = post(
        client,
        url,
        calendar_form(
            timezone="Mars/Olympus",
            **{"week.mon.1.start": "11:00", "week.tue.0.end": "9am"},
            holidays="2026-12-25\n2026-13-01",
        ),
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    for name in ("timezone", "week.mon", "week.tue.0", "holidays"):
        assert f'id="{name}-error"' in html, name
    assert "&#39;2026-13-01&#39; must be a date" in html
    assert 'value="Mars/Olympus"' in html  # what was typed stays
    assert count(tenant, SlaCalendar) == 0

    # a blank first row and a filled second one: the error still names the typed row
    skipped = post(
        client,
        url,
        calendar_form(
            **{
                "week.tue.0.start": "",
                "week.tue.0.end": "",
                "week.tue.1.start": "18:00",
                "week.tue.1.end": "17:00",
            }
        ),
    )
    assert skipped.status_code == 400 and 'id="week.tue.1-error"' in skipped.get_data(as_text=True)
    # A legacy zone that never observes daylight saving is refused, by name.
    est = post(client, url, calendar_form(timezone="EST"))
    assert est.status_code == 400 and "daylight" in est.get_data(as_text=True)
    assert count(tenant, SlaCalendar) == 0

    good = post(
        client, url, calendar_form(**{"week.fri.0.start": "10:00", "week.fri.0.end": "11:00"})
    )
    assert good.status_code == 303
    with unit_of_work(tenant) as uow:
        row = uow.session.scalar(select(SlaCalendar))
        assert row.definition["week"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
        assert row.definition["holidays"] == ["2026-01-01", "2026-12-25"]
        assert row.definition["week"]["sun"] == []
    page = client.get(f"/supervisor/tenants/{tenant}/sla").get_data(as_text=True)
    assert "Office hours" in page and "America/New_York" in page
    assert page.index("Mon 09:00") < page.index("Tue 09:00") < page.index("Fri 10:00")
    edit = f"/supervisor/tenants/{tenant}/sla/calendars/{row.id}"
    assert post(client, edit, calendar_form(**{"week.mon.0.end": "24:30"})).status_code == 400
    with unit_of_work(tenant) as uow:
        assert uow.session.get(SlaCalendar, row.id).definition["week"]["mon"][0] == [
            "09:00",
            "12:00",
        ]


def test_a_bad_policy_names_each_field_and_writes_nothing_then_saves_seconds(client, app):
    tenant = new_tenant("slp")
    with unit_of_work(tenant) as uow:
        calendar_id = save_calendar(uow, "Always", ALWAYS_OPEN).id
    signed_in(client, tenant)
    url = f"/supervisor/tenants/{tenant}/sla/policies/new"
    bad = post(
        client,
        url,
        policy_form(
            calendar_id,
            name="",
            position="first",
            thresholds="50, lots",
            **{
                "targets.resolution.hours": "two",
                "targets.start_by.minutes": "75",
                "pauses.first_response": ["assigned"],
            },
        ),
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    for name in (
        "name",
        "position",
        "thresholds",
        "targets.resolution",
        "targets.start_by",
        "pauses.first_response",
    ):
        assert f'id="{name}-error"' in html, name
    assert count(tenant, SlaPolicy) == 0
    missing = post(client, url, policy_form(calendar_id + 99))
    assert missing.status_code == 400 and 'id="calendar_id-error"' in missing.get_data(as_text=True)
    assert count(tenant, SlaPolicy) == 0

    assert post(client, url, policy_form(calendar_id)).status_code == 303
    with unit_of_work(tenant) as uow:
        row = uow.session.scalar(select(SlaPolicy))
        assert row.targets == {"resolution": 9000}
        assert row.conditions == {"kinds": ["accounting"], "types": [], "priorities": []}
        assert row.pauses == {"resolution": ["waiting_on_client"]}
        assert (row.thresholds, row.position, row.active) == ([50, 80], 10, True)
    edit = f"/supervisor/tenants/{tenant}/sla/policies/{row.id}"
    form = client.get(edit).get_data(as_text=True)
    assert (
        'name="targets.resolution.hours"' in form and 'value="2"' in form and 'value="30"' in form
    )
    assert post(client, edit, policy_form(calendar_id, position="-1")).status_code == 400
    with unit_of_work(tenant) as uow:
        assert uow.session.get(SlaPolicy, row.id).position == 10


def _clock(tenant: str, task_id: int) -> SlaClock:
    with unit_of_work(tenant) as uow:
        row = uow.session.scalar(select(SlaClock).where(SlaClock.task_id == task_id))
        uow.session.expunge(row)
        return row


def test_preview_numbers_and_the_recalculation_job_leave_closed_tasks_alone(client, app):
    tenant = new_tenant("slp")
    policy_id = setup_sla(tenant)  # resolution 1 h, always open
    with unit_of_work(tenant) as uow:
        closed = services.create_task(uow, invoice_task(), CLIENT).task
        open_task = services.create_task(uow, invoice_task(), CLIENT).task
    with unit_of_work(tenant) as uow:
        sla.on_status(uow, [closed.id], Status.DONE, closed.created_at + timedelta(minutes=5))
    before_closed = _clock(tenant, closed.id)
    signed_in(client, tenant)
    with unit_of_work(tenant) as uow:
        calendar_id = uow.session.get(SlaPolicy, policy_id).calendar_id
    edit = f"/supervisor/tenants/{tenant}/sla/policies/{policy_id}"
    saved = post(
        client,
        edit,
        policy_form(
            calendar_id,
            name="Everything",
            kinds=[],
            **{"targets.resolution.hours": "3", "targets.resolution.minutes": "0"},
        ),
    )
    assert saved.status_code == 303
    assert _clock(tenant, open_task.id).target_seconds == 3600  # editing moves no clock

    preview = client.get(f"/supervisor/tenants/{tenant}/sla/preview").get_data(as_text=True)
    assert f'data-task="{open_task.id}" data-target="resolution" data-shift="7200"' in preview
    assert f'data-task="{closed.id}"' not in preview
    assert "+2 h" in preview and "1 open clock(s) on 1 task(s)" in preview

    token = csrf_token(client, f"/supervisor/tenants/{tenant}/sla/preview")
    queued = client.post(
        f"/supervisor/tenants/{tenant}/sla/recalculate", data={"csrf_token": token}
    )
    assert queued.status_code == 303
    job = get_queue("sla").fetch_job(f"sla-recalculate-{tenant}")
    assert job is not None and job.func_name == "queues.jobs.sla.recalculate"
    assert job.kwargs["tenant"] == tenant and job.kwargs["actor_ref"].startswith("staff:")
    assert sla_jobs.recalculate(**job.kwargs) == 1

    after_open = _clock(tenant, open_task.id)
    assert after_open.target_seconds == 3 * 3600
    assert after_open.due_at == open_task.created_at + timedelta(hours=3)
    after_closed = _clock(tenant, closed.id)
    assert (after_closed.state, after_closed.target_seconds, after_closed.due_at) == (
        "met",
        before_closed.target_seconds,
        before_closed.due_at,
    )
    with unit_of_work(tenant) as uow:
        audit = uow.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "sla_recalculated")
        )
        assert audit.actor == job.kwargs["actor_ref"]
    again = client.get(f"/supervisor/tenants/{tenant}/sla/preview").get_data(as_text=True)
    assert "0 open clock(s)" in again


def test_a_supervisor_of_one_tenant_cannot_reach_another(client, app, world):
    mine, other = new_tenant("slp"), new_tenant("slp")
    with unit_of_work(other) as uow:
        ids = [save_calendar(uow, f"Secret {n}", ALWAYS_OPEN).id for n in range(3)]
    policy_id = setup_sla(other, name="Secret policy")
    with unit_of_work(mine) as uow:
        save_calendar(uow, "Mine", ALWAYS_OPEN)
    signed_in(client, mine)
    base = f"/supervisor/tenants/{other}/sla"
    for url in (
        base,
        f"{base}/calendars/new",
        f"{base}/calendars/{ids[0]}",
        f"{base}/policies/{policy_id}",
        f"{base}/preview",
    ):
        assert client.get(url).status_code == 404, url
    token = csrf_token(client, f"/supervisor/tenants/{mine}/sla/calendars/new")
    for url in (f"{base}/calendars/new", f"{base}/calendars/{ids[0]}", f"{base}/recalculate"):
        response = client.post(url, data={**calendar_form(name="Hijack"), "csrf_token": token})
        assert response.status_code == 404, url
    assert get_queue("sla").fetch_job(f"sla-recalculate-{other}") is None
    # the other tenant's ids, on my own tenant's pages, do not exist
    mine_base = f"/supervisor/tenants/{mine}/sla"
    assert client.get(f"{mine_base}/calendars/{ids[2]}").status_code == 404
    assert client.get(f"{mine_base}/policies/{policy_id + 5}").status_code == 404
    assert (
        client.post(
            f"{mine_base}/calendars/{ids[2]}", data={**calendar_form(), "csrf_token": token}
        ).status_code
        == 404
    )
    page = client.get(mine_base).get_data(as_text=True)
    assert "Mine" in page and "Secret" not in page
    with unit_of_work(other) as uow:
        names = set(uow.session.scalars(select(SlaCalendar.name)))
    assert "Hijack" not in names and count(mine, SlaCalendar) == 1


def test_an_admin_oversees_every_tenant(client, app, world):
    tenant = new_tenant("slp")
    assert login(client, "/login", world.admin_email).status_code == 302
    assert client.get(f"/supervisor/tenants/{tenant}/sla").status_code == 200
