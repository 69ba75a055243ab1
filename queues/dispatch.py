"""The platform's dispatcher: turns a committed :class:`Deferred` into an RQ job."""

import contextlib

from rq import Retry
from rq.exceptions import DuplicateJobError

from bpo.core.uow import Deferred
from queues.connection import FAILURE_TTL, RESULT_TTL, get_queue

RETRY = Retry(max=3, interval=[5, 30, 120])


def enqueue(deferred: Deferred) -> None:
    """Enqueue ``deferred``; a job id already queued is left as it is (at most once)."""
    queue = get_queue(deferred.queue)
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue(
            deferred.job,
            kwargs=deferred.kwargs,
            job_id=deferred.job_id,
            unique=deferred.job_id is not None,
            retry=RETRY,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
