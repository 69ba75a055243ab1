"""The reconciler recovers routing from PostgreSQL when workers die or Redis forgets."""

import contextlib
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from rq import Retry, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import create_engine, text

from bpo.routing import reconciler, router
from bpo.work.index import DISPATCH_GRACE
from bpo.work.states import Status
from queues.connection import get_queue, redis_connection
from queues.dispatch import ON_FAILURE
from tenants.db import utcnow
from tests.conftest import app_environ
from tests.routing._helpers import create, item, queued, sql, task
from tests.support.agents import make_agent, new_tenant

ROOT = Path(__file__).resolve().parents[2]
FLASK = ROOT / ".venv" / "bin" / "flask"


def _burst(*queues: str) -> None:
    connection = redis_connection()
    worker = SimpleWorker(
        [get_queue(q) for q in queues], connection=connection, serializer=JSONSerializer
    )
    worker.work(burst=True)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for thread in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (thread / "children").read_text().split()]
    return found


def _wait(condition, seconds: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_job_is_recovered(app, servers, tmp_path):
    tenant = new_tenant()
    agent_id = make_agent([tenant])
    redis_connection().set(reconciler.EPOCH_KEY, "set")  # Redis has not lost anything
    (task_id,) = create(tenant)  # its route job waits in the support queue
    tenant_id = item(tenant, task_id).tenant_id
    blocker = create_engine(app.extensions["bpo"].engine.url)
    lock = blocker.connect()
    lock_tx = lock.begin()
    lock.execute(
        text("SELECT 1 FROM bpo.work_items WHERE tenant_id = :t AND task_id = :id FOR UPDATE"),
        {"t": tenant_id, "id": task_id},
    )
    blocker_pid = lock.execute(text("SELECT pg_backend_pid()")).scalar()
    env = {**os.environ, **app_environ(servers, tmp_path)}
    worker = subprocess.Popen(
        [str(FLASK), "--app", "wsgi", "queues", "worker", "support"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        job = Job.fetch(
            f"route-{tenant}-{task_id}", connection=redis_connection(), serializer=JSONSerializer
        )
        _wait(lambda: job.get_status(refresh=True) == "started", what="the job to start")

        def waiting_on_our_lock() -> bool:
            # Its own transaction each time: pg_stat_activity is read once per transaction.
            rows = sql(
                "SELECT 1 FROM pg_stat_activity WHERE :blocker = ANY(pg_blocking_pids(pid))",
                blocker=blocker_pid,
            )
            return bool(rows)

        _wait(waiting_on_our_lock, what="the job to block on the index row")
        # The job runs in the worker process (SimpleWorker): killing its process group
        # kills it mid-job. Anything it forked (RQ's scheduler, or a work horse with
        # --fork, which RQ puts in a group of its own) goes too.
        for child in _children(worker.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)
        lock_tx.rollback()
        lock.close()
        blocker.dispose()

    def row_free() -> bool:
        # The killed job's server process finds out only when it reads from its
        # socket again; until then its UPDATE keeps the row (and SKIP LOCKED skips it).
        free = sql(
            "SELECT 1 FROM bpo.work_items WHERE tenant_id = :t AND task_id = :id"
            " FOR UPDATE SKIP LOCKED",
            t=tenant_id,
            id=task_id,
        )
        return bool(free)

    _wait(row_free, what="the killed job's transaction to end")
    assert item(tenant, task_id).state == Status.NEW  # the job died; nothing committed
    # Within the grace the reconciler leaves it alone; past it, it routes it again.
    assert f"{task_id}" not in " ".join(reconciler.reconcile().jobs)
    report = reconciler.reconcile(utcnow() + DISPATCH_GRACE + timedelta(seconds=1))
    assert any(j.startswith(f"reroute-{tenant}-{task_id}-") for j in report.jobs), report.jobs
    _burst("support")
    row = item(tenant, task_id)
    assert row.state == Status.ASSIGNED and row.assignee_id == agent_id
    assert task(tenant, task_id).status == Status.ASSIGNED


def test_redis_flush_redispatches_every_open_task(app):
    tenant = new_tenant()
    waiting = queued(tenant, 4)  # in the pool: routed before anyone served the tenant
    fresh = create(tenant, 3)  # new: their route jobs are about to be lost
    reconciler.reconcile()  # sets the marker
    redis = redis_connection()
    redis.flushdb()
    assert get_queue("support").count == 0
    report = reconciler.reconcile()
    assert report.redis_was_reset
    ours = [j for j in report.jobs if j.startswith(f"reroute-{tenant}-")]
    assert ours
    ids: list[int] = []
    for job_id in ours:
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        assert job.origin == "support" and job.kwargs["tenant"] == tenant
        ids += job.kwargs["task_ids"]
    assert sorted(ids) == sorted(waiting + fresh)
    assert redis.exists(reconciler.EPOCH_KEY)
    agent_id = make_agent([tenant], capacity={"support": 5})
    _burst("support")
    states = {t: item(tenant, t) for t in waiting + fresh}
    assert {r.state for r in states.values()} <= {Status.QUEUED, Status.ASSIGNED}
    assigned = [t for t, r in states.items() if r.state == Status.ASSIGNED]
    assert len(assigned) == 5 and {states[t].assignee_id for t in assigned} == {agent_id}
    assert not reconciler.reconcile().redis_was_reset  # once only


def test_a_job_failing_every_time_sends_its_tasks_to_exception(app):
    tenant = new_tenant()
    (task_id,) = create(tenant)
    redis_connection().flushdb()
    # Every routing attempt fails inside PostgreSQL: the task may not be queued.
    sql(
        f"""
        CREATE FUNCTION "tenant_{tenant}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'routing refused for this test'; END $$;
        CREATE TRIGGER refuse BEFORE UPDATE ON "tenant_{tenant}".tasks
        FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION "tenant_{tenant}".refuse();
        """
    )
    job = get_queue("support").enqueue(
        router.ROUTE_JOB,
        kwargs={"tenant": tenant, "task_ids": [task_id]},
        job_id=f"route-{tenant}-{task_id}",
        retry=Retry(max=2),  # no interval: retried at once, by the same burst worker
        on_failure=ON_FAILURE,
    )
    _burst("support")
    job.refresh()
    assert job.get_status() == "failed" and job.retries_left == 0
    assert job.id in FailedJobRegistry(queue=get_queue("support")).get_job_ids()
    row = item(tenant, task_id)
    assert row.state == Status.EXCEPTION
    assert row.last_error is not None and "routing refused for this test" in row.last_error
    assert task(tenant, task_id).status == Status.EXCEPTION
