"""Benchmark: tasks routed per second through real RQ workers, against no-op jobs.

What is measured against what, and why:

* **Routing**: 600 support tickets are created through ``services.create_task``
  one per unit of work with the platform's dispatcher replaced by a list, so each
  commit leaves one ``route_tasks`` job (tenant slug and one task id, JSON) to send;
  16 online agents serve the tenant. With the workers already running and idle, the
  jobs are enqueued by the platform's own ``queues.dispatch.enqueue`` (id, unique,
  retry, failure callback) and the clock runs until PostgreSQL shows every task
  ``assigned``. Before the clock starts, the new rows are analyzed (see
  :func:`analyze`). Each job is a whole routing step: ``new`` → ``queued`` in its
  tenant's schema and the work index, the candidate agents read, the claim (agent
  lock, the claim statement, the task's move, audit events) and the commits.
* **No-op jobs**: the same number of ``queues.jobs.maintenance.ping`` jobs on the
  same Redis, the same queue and the same workers (two ``flask queues worker
  support`` processes, the platform's default in-process worker, one per core),
  enqueued the same way, timed until the last has finished. That is RQ's own
  cost per job (dequeue, running it, result bookkeeping): the ceiling
  for any job on this setup.

The sides alternate (no-op, routing, no-op, routing) and each rate is the mean of
its two rounds. ``routing_ratio`` is routing rate / no-op rate (goal ≥ 0.5).

Last line: ``RESULT routing_ratio=<x>``.
"""

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import TICKET, app_environ, make_agents, servers

TASKS = 600
WORKERS = 2
GOAL = 0.5
SLUG = "bench_routing"
ROOT = Path(__file__).resolve().parents[1]
FLASK = ROOT / ".venv" / "bin" / "flask"


def start_workers(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(  # noqa: S603
            [str(FLASK), "--app", "wsgi", "queues", "worker", "support"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    import signal

    for w in workers:
        os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait(10)


def wait_for(condition: Any, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark timed out")
        time.sleep(0.02)


def routing_round(app: Any, round_no: int) -> float:
    from sqlalchemy import text

    from bpo.core.actors import Actor
    from bpo.core.uow import Deferred, unit_of_work
    from bpo.work import services
    from queues.dispatch import enqueue

    state = app.extensions["bpo"]
    collected: list[Deferred] = []
    real, state.dispatcher = state.dispatcher, collected.append
    try:
        client = Actor("client:1", "Bench")
        for i in range(TASKS):
            with unit_of_work(SLUG) as uow:
                services.create_task(uow, {**TICKET, "external_ref": f"R{round_no}-{i}"}, client)
    finally:
        state.dispatcher = real
    assert len(collected) == TASKS, len(collected)
    engine = state.engine
    analyze(engine)

    def assigned() -> int:
        with engine.connect() as c:
            return int(
                c.execute(
                    text(
                        "SELECT count(*) FROM bpo.work_items w JOIN bpo.tenants t"
                        " ON t.id = w.tenant_id WHERE t.slug = :s AND w.state = 'assigned'"
                    ),
                    {"s": SLUG},
                ).scalar()
                or 0
            )

    before = assigned()
    t0 = time.perf_counter()
    for deferred in collected:
        enqueue(deferred)
    wait_for(lambda: assigned() - before >= TASKS)
    return TASKS / (time.perf_counter() - t0)


def analyze(engine: Any) -> None:
    """Statistics for the tables just filled, as autovacuum keeps them on a running
    platform. Tables filled within seconds of their creation are otherwise planned
    on the statistics of empty ones: a routing step then scans the tenant's tasks
    instead of fetching its own by key, and the plan is kept (generic) until the
    next ANALYZE."""
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


def ping_round(app: Any, round_no: int) -> float:
    from rq.registry import FinishedJobRegistry

    from queues.connection import RESULT_TTL, get_queue

    queue = get_queue("support")
    finished = FinishedJobRegistry(queue=queue)
    before = finished.count
    t0 = time.perf_counter()
    for i in range(TASKS):
        queue.enqueue(
            "queues.jobs.maintenance.ping",
            kwargs={"token": f"{round_no}-{i}"},
            result_ttl=RESULT_TTL,
        )
    wait_for(lambda: finished.count - before >= TASKS)
    return TASKS / (time.perf_counter() - t0)


def main() -> None:
    with servers() as (database_url, redis_url), tempfile.TemporaryDirectory() as instance:
        env = app_environ(database_url, redis_url, instance)
        from bpo import create_app
        from tenants.migrations.runner import migrate_shared
        from tenants.provisioning import provision

        app = create_app(env)
        with app.app_context():
            migrate_shared(app.extensions["bpo"].engine)
            provision(app.extensions["bpo"].engine, SLUG, "Bench routing")
            # 16 agents x 100 units: room for every task of both rounds.
            make_agents(SLUG, 16, {"support": 100}, {"support.ticket": 3})
            workers = start_workers(env)
            try:
                ping_round(app, 0)  # warm-up: workers up, imports done
                pings, routes = [], []
                for r in (1, 2):
                    pings.append(ping_round(app, r))
                    routes.append(routing_round(app, r))
            finally:
                stop_workers(workers)
            app.extensions["bpo"].engine.dispose()
        ping, route = sum(pings) / 2, sum(routes) / 2
        ratio = route / ping
        print(f"no-op jobs:    {', '.join(f'{x:.0f}/s' for x in pings)} (mean {ping:.0f}/s)")
        print(f"tasks routed:  {', '.join(f'{x:.0f}/s' for x in routes)} (mean {route:.0f}/s)")
        print(f"routing_ratio {ratio:.2f} (goal >= {GOAL})")
    print(f"RESULT routing_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
