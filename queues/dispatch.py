"""The platform's dispatcher: turns a committed :class:`Deferred` into an RQ job."""

import contextlib

from rq import Callback, Retry
from rq.exceptions import DuplicateJobError

from bpo.core.uow import Deferred
from queues.connection import FAILURE_TTL, RESULT_TTL, get_queue

RETRY = Retry(max=3, interval=[5, 30, 120])
# Retries spent: the job's tasks go to `exception` with the error (see the callback).
ON_FAILURE = Callback("queues.jobs.routing.on_failure")


def enqueue(deferred: Deferred) -> None:
    """Enqueue ``deferred``; for a ``once`` job, an id already waiting is left as it
    is (at most once).

    A ``once`` job keeps no result (``result_ttl=0``), so the id guards against
    duplicates only while the job waits or runs, never against the next run.
    """
    queue = get_queue(deferred.queue)
    once = deferred.job_id is not None and deferred.once
    options = {
        "kwargs": deferred.kwargs,
        "job_id": deferred.job_id,
        "unique": once,
        "retry": RETRY,
        "on_failure": ON_FAILURE,
        "result_ttl": 0 if once else RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
    }
    with contextlib.suppress(DuplicateJobError):
        if deferred.at is not None:  # a timer: RQ's scheduler (in every worker) moves it
            queue.enqueue_at(deferred.at, deferred.job, **options)
        else:
            queue.enqueue(deferred.job, **options)
