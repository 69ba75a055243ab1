"""The unit of work: one transaction, jobs enqueued only after it commits."""

import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select, text

from bpo.audit.models import AuditEvent
from bpo.audit.services import record
from bpo.core.uow import unit_of_work
from queues.connection import get_queue


def _audit_count(tenant: str) -> int:
    with unit_of_work(tenant) as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEvent))


def test_commit_writes_and_then_enqueues(app, world):
    queue = get_queue("default")
    before = _audit_count(world.alpha)
    with unit_of_work(world.alpha) as uow:
        record(uow.session, actor="system", action="test", subject_type="test")
        uow.defer(
            "queues.jobs.maintenance.record_ping",
            queue="default",
            key="uow:ping",
            value=world.alpha,
        )
        assert queue.count == 0, "nothing may be enqueued before the commit"
    assert _audit_count(world.alpha) == before + 1
    assert queue.count == 1
    job = queue.jobs[0]
    assert job.func_name == "queues.jobs.maintenance.record_ping"
    assert job.kwargs == {"key": "uow:ping", "value": world.alpha}


def test_rolled_back_unit_enqueues_nothing_and_writes_nothing(app, world):
    queue = get_queue("default")
    before = _audit_count(world.alpha)
    with pytest.raises(RuntimeError), unit_of_work(world.alpha) as uow:
        record(uow.session, actor="system", action="test", subject_type="test")
        uow.defer("queues.jobs.maintenance.record_ping", queue="default", key="k", value="v")
        raise RuntimeError("boom")
    assert queue.count == 0
    assert _audit_count(world.alpha) == before


def test_a_failing_commit_enqueues_nothing(app, world):
    queue = get_queue("default")
    with pytest.raises(Exception), unit_of_work(world.alpha) as uow:  # noqa: B017 (any DB error)
        uow.session.add(
            AuditEvent(actor=None, action="x", subject_type="x")
        )  # NOT NULL violated at commit
        uow.defer("queues.jobs.maintenance.record_ping", queue="default", key="k", value="v")
    assert queue.count == 0


def test_a_redoable_unit_commits_without_waiting_for_the_disk_and_only_itself(app, world):
    before = _audit_count(world.alpha)
    with unit_of_work(world.alpha) as uow:
        uow.redoable()
        record(uow.session, actor="system", action="test", subject_type="test")
        assert uow.session.scalar(text("SHOW synchronous_commit")) == "off"
        pid = uow.session.scalar(text("SELECT pg_backend_pid()"))
    assert _audit_count(world.alpha) == before + 1  # committed all the same
    # The setting ended with its transaction: the same pooled connection waits again.
    seen = []
    for _ in range(10):
        with unit_of_work(world.alpha) as uow:
            seen.append(uow.session.scalar(text("SELECT pg_backend_pid()")))
            assert uow.session.scalar(text("SHOW synchronous_commit")) == "on"
        if seen[-1] == pid:
            break
    assert pid in seen, "the connection came back to the pool"


def test_deferred_job_runs_on_a_real_worker(app, world):
    redis = app.extensions["bpo"].redis
    with unit_of_work(world.beta) as uow:
        uow.defer(
            "queues.jobs.maintenance.record_ping", queue="default", key="uow:ran", value=world.beta
        )
    worker = SimpleWorker([get_queue("default")], connection=redis, serializer=JSONSerializer)
    assert worker.work(burst=True)
    assert redis.get("uow:ran") == world.beta.encode()


def test_a_job_id_is_enqueued_at_most_once(app, world):
    queue = get_queue("default")
    for _ in range(2):
        with unit_of_work(world.alpha) as uow:
            uow.defer("queues.jobs.maintenance.ping", queue="default", job_id="once-1", token="t")
    assert queue.count == 1


def test_queued_jobs_are_json_not_pickle(app, world):
    with unit_of_work(world.alpha) as uow:
        uow.defer("queues.jobs.maintenance.ping", queue="default", job_id="json-1", token="t")
    raw = app.extensions["bpo"].redis.hget("rq:job:json-1", "data")
    assert raw is not None
    import json
    import zlib

    assert json.loads(zlib.decompress(raw))[0] == "queues.jobs.maintenance.ping"


def test_unknown_queue_is_refused(app):
    with pytest.raises(ValueError, match="unknown queue"):
        get_queue("nope")
