"""The push and the shift check run in PostgreSQL (migrations s0009, s0010); the rules
module and ``shifts.on_shift`` are their definitions. These tests hold the SQL to them."""

import json
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bpo.core.uow import unit_of_work
from bpo.routing import rules
from bpo.routing.services import agents, push
from bpo.workforce.shifts import DAYS, on_shift, parse_all
from tenants.db import utcnow
from tests.routing._helpers import item, queued, scatter_flags, sql
from tests.routing.test_router import KINDS, TYPES, _pool
from tests.support.agents import ALL_SKILLS, make_agent, new_tenant

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"]

shift_strategy = st.builds(
    lambda day, start, minutes: {
        "day": day,
        "start": f"{start // 60:02d}:{start % 60:02d}",
        "end": f"{(start + minutes) % 1440 // 60:02d}:{(start + minutes) % 60:02d}",
    },
    st.sampled_from(DAYS),
    st.integers(0, 1439),
    st.integers(1, 1439),  # never 0: a shift does not start and end at the same time
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(shift_strategy, max_size=4),
    zone=st.sampled_from(ZONES),
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
)
# Both daylight-saving changes in New York and Sydney, and a shift over midnight.
@example(
    plan=[{"day": "sun", "start": "01:30", "end": "03:30"}],
    zone="America/New_York",
    at=datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
)
@example(
    plan=[{"day": "sun", "start": "01:00", "end": "01:30"}],
    zone="America/New_York",
    at=datetime(2026, 11, 1, 6, 15, tzinfo=UTC),
)
@example(
    plan=[{"day": "sun", "start": "02:00", "end": "04:00"}],
    zone="Australia/Sydney",
    at=datetime(2026, 4, 4, 16, 30, tzinfo=UTC),
)
@example(
    plan=[{"day": "sun", "start": "22:00", "end": "06:00"}],
    zone="UTC",
    at=datetime(2026, 12, 7, 5, 59, 59, 999999, tzinfo=UTC),
)
# The first and the last instant of a shift, and one that ends at midnight.
@example(
    plan=[{"day": "mon", "start": "09:00", "end": "17:00"}],
    zone="Europe/Berlin",
    at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
)
@example(
    plan=[{"day": "mon", "start": "09:00", "end": "17:00"}],
    zone="Europe/Berlin",
    at=datetime(2026, 12, 7, 16, 0, tzinfo=UTC),
)
@example(
    plan=[{"day": "sun", "start": "12:00", "end": "00:00"}],
    zone="UTC",
    at=datetime(2026, 12, 7, 0, 0, tzinfo=UTC),
)
def test_sql_on_shift_agrees_with_python(app, plan, zone, at):
    """``bpo.on_shift`` over the plan as the profile keeps it (``bpo.shift_week``)."""
    with unit_of_work() as uow:
        in_sql = uow.session.scalar(
            text("SELECT bpo.on_shift(bpo.shift_week(CAST(:plan AS jsonb)), :zone, :at)"),
            {"plan": json.dumps(plan), "zone": zone, "at": at},
        )
    assert in_sql is on_shift(parse_all(plan), zone, at)


@pytest.mark.parametrize("seed", range(4))
def test_sql_push_chooses_the_agent_the_rules_choose(app, seed):
    """Random agents (skills, levels, capacity, presence, a shift in their zone that
    runs now or later, overflow groups, declines) and a random pool: each push gives the task to
    ``rules.choose`` of the agents as they stand just before it, or to nobody."""
    rnd = random.Random(seed)
    tenants = [new_tenant(), new_tenant()]
    for tenant in tenants:
        for factory in TYPES:
            queued(tenant, rnd.randint(1, 3), factory, priority=rnd.choice(["normal", "urgent"]))
    tenant_ids = sorted({item(t, 1).tenant_id for t in tenants})
    now = utcnow()
    team = []
    for n in range(rnd.randint(3, 7)):
        # The first agent may take nearly anything, so some pushes always happen.
        strong = n == 0
        served = tenants if strong else [t for t in tenants if rnd.random() < 0.7] or [tenants[0]]
        zone = rnd.choice(ZONES)
        # One twelve-hour shift where they live: running now, or starting later
        # (decided by the seed, whatever the hour the test runs at).
        local = now.astimezone(ZoneInfo(zone))
        hours = -rnd.randrange(0, 11) if strong or rnd.random() < 0.7 else rnd.randrange(1, 11)
        begin = (local + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
        shift = {
            "day": DAYS[begin.weekday()],
            "start": f"{begin.hour:02d}:00",
            "end": f"{(begin.hour + 12) % 24:02d}:00",
        }
        agent_id = make_agent(
            served,
            skills={
                s: 4 if strong else rnd.randint(1, 4)
                for s in ALL_SKILLS
                if s.split(".")[0] in KINDS and (strong or rnd.random() < 0.8)
            },
            capacity={k: 5 if strong else rnd.randint(0, 5) for k in KINDS},
            presence=rules.Presence.ONLINE
            if strong
            else rnd.choice([rules.Presence.ONLINE] * 4 + [rules.Presence.AWAY]),
            shifts=[shift],
            overflow=[t for t in served if rnd.random() < 0.3],
        )
        sql("UPDATE bpo.staff_users SET timezone = :z WHERE id = :a", z=zone, a=agent_id)
        sql(
            "UPDATE bpo.agent_profiles SET last_assigned_at = now() - make_interval(mins => :m)"
            " WHERE staff_id = :a",
            m=rnd.choice([1, 5, 5, 30]),  # ties too: then the lower id
            a=agent_id,
        )
        team.append(agent_id)
    pool = _pool(tenant_ids)
    scatter_flags(rnd, pool, team)
    given = 0
    for work in sorted(_pool(tenant_ids), key=rules.urgency):
        with unit_of_work() as uow:
            expected = rules.choose(agents(uow.session, team, now), work)
            pushed = push(uow.session, work.tenant_id, work.task_id, now)
        if expected is None:
            assert pushed is None
            continue
        assert pushed is not None and pushed.agent_id == expected.id
        assert pushed.claimed is not None and pushed.claimed.task_id == work.task_id
        given += 1
    assert given > 0


def test_push_skips_the_agents_it_is_told_to_and_finds_nothing_off_the_pool(app):
    tenant = new_tenant()
    (task_id,) = queued(tenant)  # nobody serves the tenant yet: it waits in the pool
    first = make_agent([tenant], capacity={"support": 5})
    second = make_agent([tenant], capacity={"support": 3})
    tenant_id = item(tenant, task_id).tenant_id
    now = utcnow()
    with unit_of_work() as uow:
        pushed = push(uow.session, tenant_id, task_id, now, exclude=[first])
    assert pushed is not None and pushed.agent_id == second
    with unit_of_work() as uow:  # assigned now: no longer in the pool
        assert push(uow.session, tenant_id, task_id, now + timedelta(seconds=1)) is None


def test_push_passes_over_an_agent_another_claim_is_locking(app):
    """Two routing jobs at once do not queue for one agent: while one claim holds the
    best agent's profile, a push gives the task to the next best; with nobody else
    eligible it waits for the best one."""
    tenant = new_tenant()
    first_task, second_task = queued(tenant, 2)
    tenant_id = item(tenant, first_task).tenant_id
    best = make_agent([tenant], capacity={"support": 5})
    runner_up = make_agent([tenant], capacity={"support": 3})
    now = utcnow()
    with unit_of_work() as holder:  # another claim in flight for the best agent
        holder.session.execute(
            text("SELECT 1 FROM bpo.agent_profiles WHERE staff_id = :a FOR UPDATE"), {"a": best}
        )
        with unit_of_work() as uow:
            uow.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            pushed = push(uow.session, tenant_id, first_task, now)
        assert pushed is not None and pushed.agent_id == runner_up
        assert pushed.claimed is not None
    with unit_of_work() as uow:  # nobody holds anyone: the best again
        pushed = push(uow.session, tenant_id, second_task, now)
    assert pushed is not None and pushed.agent_id == best


def test_the_profile_keeps_its_week_and_skill_tokens_in_step(app):
    """What routing's SQL reads of a profile follows every change of shifts and skills,
    on creation and on each update, whatever else the update touches."""
    from bpo.identity.models import StaffUser
    from bpo.workforce.services import update_profile

    tenant = new_tenant()
    nights = [{"day": "sun", "start": "22:00", "end": "06:00"}]
    agent_id = make_agent([tenant], skills={"support.ticket": 2}, shifts=nights)

    def kept() -> tuple[list[str], bool, bool]:
        with unit_of_work() as uow:
            row = uow.session.execute(
                text(
                    "SELECT p.skill_tokens, p.shift_week = bpo.shift_week(p.shifts) AS same,"
                    " bpo.on_shift(p.shift_week, 'UTC', CAST(:mon_5am AS timestamptz)) AS on"
                    " FROM bpo.agent_profiles p WHERE p.staff_id = :a"
                ),
                {"a": agent_id, "mon_5am": datetime(2026, 12, 7, 5, tzinfo=UTC)},
            ).one()
        return row.skill_tokens, row.same, row.on

    assert kept() == (rules.skill_tokens({"support.ticket": 2}), True, True)
    with unit_of_work() as uow:
        staff = uow.session.get(StaffUser, agent_id)
        update_profile(
            uow.session,
            staff,
            {
                "skills": {"accounting.invoice": 1},
                "shifts": [{"day": "mon", "start": "09:00", "end": "17:00"}],
            },
        )
    assert kept() == (["accounting.invoice@1"], True, False)
