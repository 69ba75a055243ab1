"""`flask queues info` and `flask queues requeue-failed` against the real Redis."""

import re

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from queues.cli import WORKER_TTL_SECONDS, make_worker, queues_cli
from queues.connection import get_queue

JOB = f"{__name__}.explode"


def explode(reason: str) -> None:
    """A job that always fails."""
    raise RuntimeError(reason)


def echo(value: int) -> int:
    return value


def run(app, *args: str) -> str:
    # `flask queues` is loaded from an entry point, which app.cli does not see: invoke the group.
    result = app.test_cli_runner().invoke(queues_cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def counts(output: str, queue: str) -> dict[str, int]:
    """One queue's row of `queues info`, by column name."""
    header = output.splitlines()[0].split()[1:]
    row = next(line for line in output.splitlines() if line.split()[0] == queue)
    return dict(zip(header, (int(n) for n in row.split()[1:]), strict=True))


def burst(app, name: str) -> None:
    SimpleWorker(
        [get_queue(name)], connection=app.extensions["bpo"].redis, serializer=JSONSerializer
    ).work(burst=True)


def test_info_counts_queued_scheduled_and_failed_jobs_per_queue(app):
    support, default = get_queue("support"), get_queue("default")
    support.enqueue(JOB, kwargs={"reason": "first"})
    burst(app, "support")
    support.enqueue(f"{__name__}.echo", kwargs={"value": 1})
    default.enqueue_in(
        __import__("datetime").timedelta(hours=1), f"{__name__}.echo", kwargs={"value": 2}
    )
    output = run(app, "info")
    assert output.splitlines()[0].split() == [
        "queue", "queued", "started", "scheduled", "deferred", "failed", "workers",
    ]  # fmt: skip
    assert counts(output, "support") == {
        "queued": 1, "started": 0, "scheduled": 0, "deferred": 0, "failed": 1, "workers": 0,
    }  # fmt: skip
    assert counts(output, "default")["scheduled"] == 1
    assert counts(output, "accounting") == dict.fromkeys(counts(output, "support"), 0)


def test_requeue_failed_puts_failed_jobs_back_and_says_how_many(app):
    support, accounting = get_queue("support"), get_queue("accounting")
    failing = [support.enqueue(JOB, kwargs={"reason": f"s{i}"}) for i in range(2)]
    other = accounting.enqueue(JOB, kwargs={"reason": "a"})
    burst(app, "support")
    burst(app, "accounting")
    assert support.failed_job_registry.count == 2 and accounting.failed_job_registry.count == 1

    output = run(app, "requeue-failed", "--queue", "support")
    assert re.search(r"Requeued 2 failed job\(s\)\.", output)
    assert support.failed_job_registry.count == 0 and sorted(support.job_ids) == sorted(
        j.id for j in failing
    )
    assert accounting.failed_job_registry.count == 1  # not asked for

    burst(app, "support")  # they fail again, and come back again
    assert support.failed_job_registry.count == 2
    output = run(app, "requeue-failed")
    assert "Requeued 3 failed job(s)." in output
    assert "support: requeued 2" in output and "accounting: requeued 1" in output
    assert other.id in accounting.job_ids
    assert "Requeued 0 failed job(s)." in run(app, "requeue-failed")


def test_requeue_failed_refuses_an_unknown_queue(app):
    result = app.test_cli_runner().invoke(queues_cli, ["requeue-failed", "--queue", "nope"])
    assert result.exit_code != 0 and "nope" in result.output


def test_a_dead_worker_leaves_info_within_two_minutes(app):
    worker = make_worker("support")
    worker.register_birth()  # as it starts; then renewed by every heartbeat
    try:
        assert counts(run(app, "info"), "support")["workers"] == 1
        redis = app.extensions["bpo"].redis
        # Killed now, it would never heartbeat again: its registration runs out by then.
        assert 0 < redis.ttl(worker.key) <= 120
        worker.heartbeat()
        assert 0 < redis.ttl(worker.key) <= WORKER_TTL_SECONDS + 60
        redis.delete(worker.key)  # as when the registration expires
        assert counts(run(app, "info"), "support")["workers"] == 0
    finally:
        worker.register_death()
