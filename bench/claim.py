"""Benchmark: the platform's claim against a bare ``SKIP LOCKED`` claim, 16 at once.

What is measured against what, and why:

* **Service claim**: 16 agent processes (processes, not threads: two cores and the
  GIL would otherwise measure Python's lock), each in a loop of
  ``unit_of_work()`` + :func:`bpo.routing.services.claim_next` + commit until it is
  at capacity (100 support units; 1,600 claims in all over a pool of 2,000 tickets).
  That is everything "Next task" costs in PostgreSQL: the agent's profile locked and
  read (tenants, skills, capacity, shifts, presence), the one claim statement on the
  work index (tenant, skills, capacity and declined filters, most urgent first,
  ``FOR UPDATE SKIP LOCKED``), the task's transition in its tenant schema with its
  audit event, and the commit.
* **Bare claim**: 16 processes too, each an autocommit psycopg connection looping
  ``UPDATE … WHERE (tenant_id, task_id) = (SELECT … ORDER BY <the claim's order>
  LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING`` on an identical copy of the work
  index (same rows, same indexes), on the same server in the same run: the floor a
  PostgreSQL work queue imposes, with none of the rules. The bare side runs before
  and after the service side (its rate is the mean of both), so drift on a shared
  machine weighs on both sides alike.

* **Function claim** (for the record, not in the ratio): 16 processes calling
  ``bpo.claim_work`` itself, the statement the service sends, from autocommit psycopg
  connections with no Python around it, for 16 agents of a second tenant with the
  same pool. It shows how much of the gap is the claim's own work in PostgreSQL (lock
  the agent, pick, assign the index row and book the units, move the task and write
  its audit event: four rows written where the bare claim writes one) and how much
  is Python and the unit of work.

* **The ceiling** (for the record, not in the ratio): 16 processes like the service
  side, each unit of work sending ``SELECT 1`` instead of the claim, and 16 sending
  ``SELECT 1`` from autocommit psycopg. The difference is what a unit of work costs
  beyond its statement; every edge of the platform owns one (DESIGN.md). Any claim
  statement costs at least the bare claim (it picks and updates the same row the same
  way, and more), so the service's ratio is at most
  ``bare time / (unit's cost + bare time)``, whatever the claim does.

``claim_ratio`` is service rate / bare rate (goal ≥ 0.7). Every claim's task is
collected from both sides and ``double_claims`` counts tasks handed out twice (must
be 0); the service side is also checked in PostgreSQL (one ``assigned`` audit
event per task). ``claim_p99_ms`` is the service claim's 99th-percentile latency,
unit of work opened to commit.

Last line: ``RESULT claim_ratio=<x> double_claims=<n> claim_p99_ms=<ms>``.
"""

import multiprocessing as mp
import statistics
import tempfile
import time
from collections import Counter
from typing import Any

from _common import TICKET, app_environ, make_agents, servers

AGENTS = 16
CAPACITY = 100  # the most a profile allows; each agent claims exactly this many
TASKS = 2000  # more than 16 x 100, so the pool never runs dry
GOAL = 0.7
SLUG = "bench_claim"
FUNCTION_SLUG = "bench_claim_fn"  # the function side's own tenant, pool and agents

BARE_CLAIM = """
UPDATE bench_items SET state = 'assigned', assignee_id = %(agent)s, assigned_at = now(),
       updated_at = now()
WHERE (tenant_id, task_id) = (
    SELECT tenant_id, task_id FROM bench_items WHERE state = 'queued'
    ORDER BY sla_due_at NULLS LAST, priority_rank DESC, created_at, task_id
    LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING tenant_id, task_id
"""


def service_claimer(env: dict[str, str], agent_id: int, start: Any, out: Any) -> None:
    from bpo import create_app
    from bpo.core.uow import unit_of_work
    from bpo.routing.services import claim_next
    from tenants.db import utcnow

    app = create_app(env)
    claims: list[tuple[int, int]] = []
    latencies: list[float] = []
    with app.app_context():
        with unit_of_work() as uow:  # connect before the start
            uow.session.connection()
        start.wait()
        while True:
            t0 = time.perf_counter()
            with unit_of_work() as uow:
                claimed = claim_next(uow.session, agent_id, utcnow())
            if claimed is None:
                break
            latencies.append(time.perf_counter() - t0)
            claims.append((claimed.tenant_id, claimed.task_id))
    out.put((claims, latencies, time.perf_counter()))


ROUNDS = 400  # statements per process on the ceiling's two sides


def empty_unit_claimer(env: dict[str, str], agent_id: int, start: Any, out: Any) -> None:
    """The service side's loop with ``SELECT 1`` for the claim."""
    from bpo import create_app
    from bpo.core import prepared
    from bpo.core.uow import unit_of_work

    app = create_app(env)
    done: list[tuple[int, int]] = []
    with app.app_context():
        with unit_of_work() as uow:  # connect before the start
            uow.session.connection()
        start.wait()
        for n in range(ROUNDS):
            with unit_of_work() as uow:
                prepared.row(uow.session, "SELECT 1", {})
            done.append((agent_id, n))
    out.put((done, [], time.perf_counter()))


def select_one_claimer(url: str, agent_id: int, start: Any, out: Any) -> None:
    """``SELECT 1`` from autocommit psycopg, as the bare side sends its claim."""
    import psycopg

    done: list[tuple[int, int]] = []
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT 1")
        start.wait()
        for n in range(ROUNDS):
            connection.execute("SELECT 1", prepare=True).fetchone()
            done.append((agent_id, n))
    out.put((done, [], time.perf_counter()))


FUNCTION_CLAIM = (
    "SELECT task_id FROM bpo.claim_work(%(agent)s, now(), now() + interval '10 minutes',"
    " %(idle)s, NULL, NULL, NULL, false, 'system', 'bench')"
)


def function_claimer(url: str, agent_id: int, start: Any, out: Any) -> None:
    import psycopg

    from bpo.workforce.services import IDLE_AFTER

    claims: list[tuple[int, int]] = []
    latencies: list[float] = []
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT 1")
        start.wait()
        while True:
            t0 = time.perf_counter()
            row = connection.execute(
                FUNCTION_CLAIM, {"agent": agent_id, "idle": IDLE_AFTER}, prepare=True
            ).fetchone()
            if row is None:
                break
            latencies.append(time.perf_counter() - t0)
            claims.append((0, int(row[0])))
    out.put((claims, latencies, time.perf_counter()))


def bare_claimer(url: str, agent_id: int, start: Any, out: Any) -> None:
    import psycopg

    claims: list[tuple[int, int]] = []
    latencies: list[float] = []
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT 1")
        start.wait()
        for _ in range(CAPACITY):
            t0 = time.perf_counter()
            row = connection.execute(BARE_CLAIM, {"agent": agent_id}, prepare=True).fetchone()
            if row is None:
                break
            latencies.append(time.perf_counter() - t0)
            claims.append((int(row[0]), int(row[1])))
    out.put((claims, latencies, time.perf_counter()))


def run_side(target: Any, args_of: Any, agents: list[int]) -> tuple[float, list, list]:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(len(agents) + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_of(a), start, out)) for a in agents]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    elapsed = max(r[2] for r in results) - t0
    claims = [c for r in results for c in r[0]]
    latencies = [x for r in results for x in r[1]]
    return len(claims) / elapsed, claims, latencies


def setup(env: dict[str, str]) -> tuple[list[int], list[int], str]:
    from sqlalchemy import text

    from bpo import create_app
    from bpo.core.actors import Actor
    from bpo.core.uow import unit_of_work
    from bpo.routing import router
    from bpo.work import services
    from tenants.migrations.runner import migrate_shared
    from tenants.provisioning import provision

    app = create_app(env)
    engine = app.extensions["bpo"].engine
    with app.app_context():
        migrate_shared(engine)
        priorities = ["low", "normal", "high", "urgent"]
        teams = []
        for slug in (SLUG, FUNCTION_SLUG):
            provision(engine, slug, slug)
            with unit_of_work(slug) as uow:
                created = services.create_batch(
                    uow,
                    [{**TICKET, "priority": priorities[i % 4]} for i in range(TASKS)],
                    Actor("client:1", "Bench"),
                ).created
            router.route(slug, [t.id for t in created])  # nobody serves it yet: all queued
            teams.append(make_agents(slug, AGENTS, {"support": CAPACITY}, {"support.ticket": 3}))
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS public.bench_items"))
            connection.execute(
                text("CREATE TABLE public.bench_items (LIKE bpo.work_items INCLUDING ALL)")
            )
        reset_bare(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE bpo.work_items"))
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    engine.dispose()
    return teams[0], teams[1], url


def reset_bare(engine: Any) -> None:
    from sqlalchemy import text

    with engine.begin() as connection:
        connection.execute(text("TRUNCATE public.bench_items"))
        connection.execute(
            text(
                "INSERT INTO public.bench_items SELECT * FROM bpo.work_items"
                " WHERE tenant_id = (SELECT id FROM bpo.tenants WHERE slug = :s)"
            ),
            {"s": SLUG},
        )
        connection.execute(
            text("UPDATE public.bench_items SET state = 'queued', assignee_id = NULL")
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE public.bench_items"))


def audit_check(env: dict[str, str]) -> int:
    """Tasks of the service side with other than one ``assigned`` audit event."""
    from sqlalchemy import text

    from bpo import create_app

    app = create_app(env)
    engine = app.extensions["bpo"].engine
    with engine.connect() as connection:
        bad = connection.execute(
            text(
                f"SELECT count(*) FROM (SELECT subject_id FROM tenant_{SLUG}.audit_events"
                " WHERE action = 'transition' AND to_state = 'assigned'"
                " GROUP BY subject_id HAVING count(*) <> 1) x"
            )
        ).scalar()
    engine.dispose()
    return int(bad or 0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    with servers() as (database_url, redis_url), tempfile.TemporaryDirectory() as instance:
        env = app_environ(database_url, redis_url, instance, BPO_DB_POOL_SIZE="2")
        agents, function_agents, url = setup(env)
        from sqlalchemy import create_engine

        engine = create_engine(
            env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
        )
        bare1, bare_claims1, _ = run_side(bare_claimer, lambda a: (url, a), agents)
        service, service_claims, latencies = run_side(service_claimer, lambda a: (env, a), agents)
        function, function_claims, _ = run_side(
            function_claimer, lambda a: (url, a), function_agents
        )
        empty, _, _ = run_side(empty_unit_claimer, lambda a: (env, a), agents)
        select_one, _, _ = run_side(select_one_claimer, lambda a: (url, a), agents)
        reset_bare(engine)
        bare2, bare_claims2, _ = run_side(bare_claimer, lambda a: (url, a), agents)
        engine.dispose()
        bare = (bare1 + bare2) / 2
        doubles = sum(n - 1 for n in Counter(service_claims).values() if n > 1)
        doubles += sum(n - 1 for n in Counter(function_claims).values() if n > 1)
        doubles += sum(n - 1 for n in Counter(bare_claims1).values() if n > 1)
        doubles += sum(n - 1 for n in Counter(bare_claims2).values() if n > 1)
        bad_audit = audit_check(env)
        ratio = service / bare
        p50, p99 = pct(latencies, 0.5), pct(latencies, 0.99)
        print(f"service claims: {len(service_claims)} at {service:,.0f}/s")
        print(
            f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms,"
            f" mean {statistics.mean(latencies) * 1000:.1f} ms"
        )
        print(
            f"function claims: {len(function_claims)} at {function:,.0f}/s"
            f" ({function / bare:.2f} of bare): the claim statement alone, no Python"
        )
        unit_ms = max(0.0, 1000 / empty - 1000 / select_one)
        ceiling = (1000 / bare) / (unit_ms + 1000 / bare)
        print(
            f"ceiling: {ceiling:.2f} of bare. Units of work with SELECT 1 {empty:,.0f}/s,"
            f" autocommit SELECT 1 {select_one:,.0f}/s: a unit of work costs"
            f" {unit_ms:.2f} ms more, and any claim statement at least the bare claim's"
            f" {1000 / bare:.2f} ms"
        )
        print(
            f"bare claims:    {len(bare_claims1)} at {bare1:,.0f}/s,"
            f" then {len(bare_claims2)} at {bare2:,.0f}/s"
        )
        print(
            f"tasks claimed twice: {doubles}; tasks without exactly one assigned event: {bad_audit}"
        )
        print(f"claim_ratio {ratio:.2f} (goal >= {GOAL})")
    print(
        f"RESULT claim_ratio={ratio:.2f} double_claims={doubles + bad_audit} claim_p99_ms={p99:.1f}"
    )


if __name__ == "__main__":
    main()
