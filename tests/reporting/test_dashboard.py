"""The SLA dashboard's figures against hand-computed data, and its scope.

Index rows, rollups and work sessions are written directly with known instants
relative to one fixed ``now``, so every expected number below is worked out by hand
in the comments next to it. Fresh tenants keep other tests' rows out of the sums.
"""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, update

from bpo.core.uow import unit_of_work
from bpo.identity import services as identity
from bpo.reporting import dashboard, export
from bpo.sla.models import SlaRollup
from bpo.work.models import WorkItem, WorkSession
from bpo.work.states import Kind, Status
from bpo.workforce.models import AgentProfile
from tenants.db import utcnow
from tenants.models import Tenant
from tests.support.agents import make_agent, new_tenant

H = timedelta(hours=1)
M = timedelta(minutes=1)


def tenant_id(slug: str) -> int:
    with unit_of_work() as uow:
        return identity.tenant_by_slug(uow.session, slug).id


def item(tenant: int, task: int, kind: Kind, state: Status, created: datetime, **kw) -> WorkItem:
    types = {Kind.SUPPORT: "support.ticket", Kind.ACCOUNTING: "accounting.invoice"}
    return WorkItem(
        tenant_id=tenant,
        task_id=task,
        kind=kind,
        type=types.get(kind, "data_entry.record"),
        priority_rank=1,
        state=state,
        created_at=created,
        **kw,
    )


@pytest.fixture
def scene(app):
    """Tenants A and B with open work, rollups, agents and work sessions at ``now``."""
    a_slug, b_slug = new_tenant("dash"), new_tenant("dash")
    a, b = tenant_id(a_slug), tenant_id(b_slug)
    busy = make_agent([a_slug], name="Ada Busy", capacity={"support": 10, "accounting": 20})
    offline = make_agent([b_slug], name="Bo Offline")
    idle = make_agent([a_slug], name="Ida Idle")
    now = utcnow()
    today = now.date()
    with unit_of_work() as uow:
        s = uow.session
        s.execute(
            update(AgentProfile).where(AgentProfile.staff_id == offline).values(presence="offline")
        )
        # Online, but unseen for 20 minutes: away in effect, so not listed.
        s.execute(
            update(AgentProfile)
            .where(AgentProfile.staff_id == idle)
            .values(last_seen_at=now - 20 * M, presence_at=now - 20 * M)
        )
        s.add_all(
            [
                # A, support: two waiting, one held (breached), one exception.
                item(a, 1, Kind.SUPPORT, Status.QUEUED, now - 30 * M, queued_at=now - 20 * M,
                     sla_warned=75, sla_due_at=now + 10 * M),
                item(a, 2, Kind.SUPPORT, Status.QUEUED, now - 2 * H, queued_at=now - 90 * M),
                item(a, 3, Kind.SUPPORT, Status.ASSIGNED, now - 5 * H, assignee_id=busy,
                     weight=1, sla_warned=90, sla_breached=True, sla_due_at=now - 1 * M),
                item(a, 4, Kind.SUPPORT, Status.EXCEPTION, now - 2 * 24 * H),
                # A, accounting: one new (never queued), one in progress at weight 2.
                item(a, 5, Kind.ACCOUNTING, Status.NEW, now - 4 * 24 * H),
                item(a, 6, Kind.ACCOUNTING, Status.IN_PROGRESS, now - 10 * M, assignee_id=busy,
                     weight=2, sla_warned=50, sla_due_at=now + 2 * H, sla_paused=True),
                # B, data entry: one waiting, the most urgent at-risk row.
                item(b, 1, Kind.DATA_ENTRY, Status.QUEUED, now - 3 * H, queued_at=now - 3 * H,
                     sla_warned=50, sla_due_at=now + 5 * M),
            ]
        )  # fmt: skip
        day = timedelta(days=1)
        s.add_all(
            [
                SlaRollup(tenant_id=a, day=today, kind="support", target="resolution",
                          met=3, missed=1, breaches=2),
                SlaRollup(tenant_id=a, day=today, kind="support", target="first_response",
                          met=1, missed=0, breaches=1),
                SlaRollup(tenant_id=a, day=today - 3 * day, kind="accounting",
                          target="resolution", met=4, missed=0, breaches=0),
                SlaRollup(tenant_id=a, day=today - 10 * day, kind="accounting",
                          target="resolution", met=2, missed=2, breaches=2),
                # 30 days back is outside the 30-day window (today and the 29 before).
                SlaRollup(tenant_id=a, day=today - 30 * day, kind="support",
                          target="resolution", met=100, missed=0, breaches=0),
            ]
        )  # fmt: skip
        s.add_all(
            [
                # 15 min inside the window (now-60m .. now-45m).
                WorkSession(tenant_id=a, task_id=3, agent_id=busy,
                            started_at=now - 90 * M, ended_at=now - 45 * M),
                WorkSession(tenant_id=a, task_id=6, agent_id=busy,
                            started_at=now - 20 * M, ended_at=now - 10 * M),  # 10 min
                WorkSession(tenant_id=a, task_id=6, agent_id=busy, started_at=now - 5 * M),  # 5
                WorkSession(tenant_id=a, task_id=3, agent_id=busy,
                            started_at=now - 3 * H, ended_at=now - 2 * H),  # outside
            ]
        )  # fmt: skip
    return {"a": a, "b": b, "a_slug": a_slug, "b_slug": b_slug, "busy": busy, "now": now}


def overview(ids: list[int], now: datetime) -> dashboard.Overview:
    with unit_of_work() as uow:
        return dashboard.overview(uow.session, ids, now)


def test_figures_match_the_hand_computed_data(scene):
    a, b, now = scene["a"], scene["b"], scene["now"]
    o = overview([a, b], now)

    queues = {(r.tenant_id, r.kind): r for r in o.queues}
    assert set(queues) == {(a, "support"), (a, "accounting"), (b, "data_entry")}
    sup = queues[(a, "support")]
    assert (sup.waiting, sup.in_hand, sup.exceptions, sup.open) == (2, 1, 1, 4)
    assert sup.oldest_waiting_seconds == 90 * 60  # task 2 queued 90 min ago
    acc = queues[(a, "accounting")]
    assert (acc.waiting, acc.in_hand, acc.exceptions, acc.open) == (1, 1, 0, 2)
    assert acc.oldest_waiting_seconds == 4 * 24 * 3600  # never queued: since created
    assert queues[(b, "data_entry")].oldest_waiting_seconds == 3 * 3600

    # Warned and not breached, least time left first; task 3 is breached.
    assert [(r.tenant_id, r.task_id) for r in o.at_risk] == [(b, 1), (a, 1), (a, 6)]
    assert [r.seconds_left for r in o.at_risk] == [300, 600, 7200]
    assert [r.warned for r in o.at_risk] == [50, 75, 50]
    assert o.at_risk[2].paused and o.at_risk[2].assignee == "Ada Busy"
    assert o.at_risk_total == 3

    # Today (UTC): support 2 + 1 breaches, 3 + 1 met, 1 missed; B has no rollups.
    assert [(r.tenant_id, r.kind, r.breaches, r.met, r.missed) for r in o.breaches_today] == [
        (a, "support", 3, 4, 1)
    ]

    # Only Ada is online and seen lately: held 1 + 2 units of 10 + 20 capacity;
    # handle time 15 + 10 + 5 minutes of the last 60.
    [ada] = o.agents
    assert ada.agent_id == scene["busy"]
    assert (ada.held_units, ada.capacity_units) == (3, 30)
    assert ada.utilization == pytest.approx(0.1)
    assert ada.busy_seconds == 1800 and ada.occupancy == pytest.approx(0.5)

    att = {r.tenant_id: r for r in o.attainment}
    # 7 days: today 3+1 met, 1 missed; 3 days ago 4 met -> 8 / 9.
    assert (att[a].met_7, att[a].missed_7) == (8, 1)
    assert att[a].attainment_7 == pytest.approx(8 / 9)
    # 30 days adds 10 days ago (2 met, 2 missed) -> 10 / 13; 30 days ago is out.
    assert (att[a].met_30, att[a].missed_30) == (10, 3)
    assert att[a].attainment_30 == pytest.approx(10 / 13)
    assert att[b].attainment_7 is None and att[b].attainment_30 is None

    backlog = {r.tenant_id: r.counts for r in o.backlog}
    # A: 30m and 10m old (<1h), 2h (1-4h), 5h (4-24h), 2d (1-3d), 4d (>3d).
    assert backlog[a] == (2, 1, 1, 1, 1)
    assert backlog[b] == (0, 1, 0, 0, 0)
    assert o.backlog_totals == [("<1h", 2), ("1-4h", 2), ("4-24h", 1), ("1-3d", 1), (">3d", 1)]

    assert len(o.trend) == 30 and o.trend[0].day == o.today - timedelta(days=29)
    by_day = {p.day: p.attainment for p in o.trend}
    assert by_day[o.today] == pytest.approx(0.8)  # 4 met, 1 missed
    assert by_day[o.today - timedelta(days=3)] == 1.0
    assert by_day[o.today - timedelta(days=10)] == 0.5
    assert sum(p.attainment is not None for p in o.trend) == 3


def test_scope_is_the_tenants_given(scene):
    only_b = overview([scene["b"]], scene["now"])
    assert {r.tenant_id for r in only_b.queues} == {scene["b"]}
    assert [r.tenant_id for r in only_b.at_risk] == [scene["b"]]
    assert only_b.breaches_today == [] and only_b.agents == []
    assert [r.tenant_id for r in only_b.attainment] == [scene["b"]]
    assert all(p.attainment is None for p in only_b.trend)
    assert overview([], scene["now"]).queues == []


def test_a_fixed_number_of_statements_for_any_number_of_tenants(scene, engine):
    """Set-based: the dashboard costs the same statements for one tenant or many."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        overview([scene["a"]], scene["now"])
        one = len(statements)
        statements.clear()
        overview([scene["a"], scene["b"]], scene["now"])
        assert len(statements) == one == 5
        schemas = (f"tenant_{scene['a_slug']}", f"tenant_{scene['b_slug']}")
        assert not any(name in s for s in statements for name in schemas)  # shared only
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_csv_tables_are_formula_safe_and_complete(scene):
    with unit_of_work() as uow:
        uow.session.execute(
            update(Tenant).where(Tenant.id == scene["a"]).values(name="=HYPERLINK(1)")
        )
    o = overview([scene["a"], scene["b"]], scene["now"])
    queues = export.csv_table(o, "queues").splitlines()
    assert queues[0].startswith("tenant,kind,waiting,in_hand")
    assert "'=HYPERLINK(1),support,2,1,1,4," in "\n".join(queues)
    at_risk = export.csv_table(o, "at_risk")
    assert ",-" not in at_risk.split("\r\n", 1)[0]
    for name in export.TABLES:
        assert export.csv_table(o, name).count("\r\n") >= 1
    trend = export.csv_table(o, "trend").splitlines()
    assert len(trend) == 31 and trend[-1].startswith(f"{o.today.isoformat()},4,1,0.8")
    data = export.as_json(o)
    assert data["at_risk_total"] == 3 and data["backlog_totals"][0] == ["<1h", 2]
