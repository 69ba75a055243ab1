"""The automated review job, on the queue of the task's kind of work: thin, ids only.

Restores the app and calls :func:`bpo.routing.review.review`, which opens its own
unit of work and leaves a task that is no longer in review alone, so running the
job twice changes nothing.
"""

from bpo.routing import review
from queues.runtime import app_context


def review_task(tenant: str, task_id: int) -> str | None:
    """Review handed-in task ``task_id`` of ``tenant``; returns its new status, if any."""
    with app_context():
        status = review.review(tenant, int(task_id))
        return None if status is None else status.value
