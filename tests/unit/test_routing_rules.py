"""The assignment rules: examples, and properties over random agent pools."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bpo.routing.rules import Agent, Presence, Work, candidates, choose, fill, may_take, refusal

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KINDS = ("data_entry", "accounting", "support")
SKILLS = ("data_entry.record", "accounting.invoice", "support.ticket")


def agent(id: int, **kw) -> Agent:
    base = dict(
        tenants=frozenset({1}),
        presence=Presence.ONLINE,
        on_shift=True,
        skills={"accounting.invoice": 3},
        capacity={"accounting": 4},
    )
    return Agent(id=id, **{**base, **kw})


def work(task_id: int = 1, **kw) -> Work:
    base = dict(
        tenant_id=1,
        kind="accounting",
        weight=2,
        required={"accounting.invoice": 2},
        priority_rank=1,
        created_at=T0,
    )
    return Work(task_id=task_id, **{**base, **kw})


def test_each_rule_refuses_with_a_reason():
    assert refusal(agent(1), work()) is None
    assert refusal(agent(1, tenants=frozenset({2})), work()) == "does not serve this client"
    assert refusal(agent(1, presence=Presence.AWAY), work()) == "is away"
    assert refusal(agent(1, on_shift=False), work()) == "is not on shift"
    assert refusal(agent(1, skills={"accounting.invoice": 1}), work()) == (
        "needs accounting.invoice at level 2"
    )
    assert refusal(agent(1, load={"accounting": 3}), work()) == "has no spare capacity for it"


def test_most_spare_capacity_then_longest_idle():
    busy = agent(1, load={"accounting": 2})
    idle_long = agent(2, last_assigned_at=T0 - timedelta(hours=3))
    idle_short = agent(3, last_assigned_at=T0 - timedelta(minutes=5))
    never = agent(4)
    assert [a.id for a in candidates([busy, idle_short, idle_long, never], work())] == [4, 2, 3, 1]
    assert choose([agent(5, presence=Presence.OFFLINE)], work()) is None


def test_fill_takes_the_most_urgent_first_up_to_capacity():
    soon = work(1, sla_due_at=T0 + timedelta(hours=1))
    later = work(2, sla_due_at=T0 + timedelta(hours=5), priority_rank=3)
    no_sla_urgent = work(3, priority_rank=4)
    no_sla_old = work(4, created_at=T0 - timedelta(days=1))
    after, given_work = fill(agent(1), [no_sla_old, later, no_sla_urgent, soon], T0)
    assert [w.task_id for w in given_work] == [1, 2]  # capacity 4 = two of weight 2
    assert after.load == {"accounting": 4} and after.last_assigned_at == T0


agents_strategy = st.lists(
    st.builds(
        Agent,
        id=st.integers(1, 10_000),
        tenants=st.frozensets(st.integers(1, 3), max_size=3),
        presence=st.sampled_from(list(Presence)),
        on_shift=st.booleans(),
        skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5)),
        capacity=st.dictionaries(st.sampled_from(KINDS), st.integers(0, 8)),
        load=st.dictionaries(st.sampled_from(KINDS), st.integers(0, 8)),
        last_assigned_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    ),
    max_size=12,
)
works_strategy = st.lists(
    st.builds(
        Work,
        tenant_id=st.integers(1, 3),
        task_id=st.integers(1, 10**6),
        kind=st.sampled_from(KINDS),
        weight=st.integers(1, 4),
        required=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2),
        priority_rank=st.integers(0, 3),
        created_at=st.datetimes(timezones=st.just(UTC)),
        sla_due_at=st.none() | st.datetimes(timezones=st.just(UTC)),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(agents_strategy, works_strategy)
def test_no_assignment_ever_breaks_eligibility_or_capacity(agents, pool):
    """Route a whole pool one task at a time, as the router does."""
    by_id = {a.id: a for a in agents}
    for item in pool:
        chosen = choose(by_id.values(), item)
        if chosen is None:
            assert not any(may_take(a, item) for a in by_id.values())
            continue
        assert may_take(chosen, item)
        best_spare = max(a.spare(item.kind) for a in by_id.values() if may_take(a, item))
        assert chosen.spare(item.kind) == best_spare
        after = chosen.taking(item, T0)
        assert after.load[item.kind] <= after.capacity.get(item.kind, 0)
        by_id[chosen.id] = after


@settings(max_examples=300, deadline=None)
@given(agents_strategy, works_strategy)
def test_fill_never_exceeds_capacity_nor_gives_what_was_not_allowed(agents, pool):
    for one in agents:
        after, given_work = fill(one, pool, T0)
        for kind in KINDS:
            used = sum(w.weight for w in given_work if w.kind == kind)
            assert after.load.get(kind, 0) == one.load.get(kind, 0) + used
            if used:
                assert after.load[kind] <= one.capacity.get(kind, 0)
        state = one
        for item in given_work:
            assert may_take(state, item)
            state = state.taking(item, T0)
