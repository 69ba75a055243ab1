"""Periodic jobs and the scheduler loop that enqueues them.

RQ 3's ``CronScheduler`` is beta, evaluates cron strings in local time and
enqueues with the default pickle serializer, which our JSON-only workers cannot
read. This loop is the small part of it we need: each periodic job gets a job id
per time slot, enqueued with ``unique=True``, so several schedulers (or a restart)
never enqueue the same slot twice. Delayed jobs (``enqueue_at``) are moved by
RQ's own scheduler, which runs inside every worker (``with_scheduler=True``).
"""

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from rq.exceptions import DuplicateJobError

from queues import names
from queues.connection import FAILURE_TTL, get_queue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    job: str
    queue: str
    every_seconds: int


PERIODIC: tuple[Periodic, ...] = (
    Periodic("housekeeping", "queues.jobs.maintenance.housekeeping", names.DEFAULT, 300),
    # Overdue dispatch, expired leases, skills timeouts, idle agents with room; and
    # the rebuild of all dispatch state after Redis lost its data.
    Periodic("reconcile", "queues.jobs.routing.reconcile", names.DEFAULT, 30),
    # SLA warnings and breaches whose timers Redis lost (each fires once regardless).
    Periodic("sla-sweep", "queues.jobs.sla.sweep", names.SLA, 60),
)


def enqueue_due(now: float, periodic: tuple[Periodic, ...] = PERIODIC) -> list[str]:
    """Enqueue the current slot of every periodic job; returns the job ids enqueued."""
    enqueued = []
    for item in periodic:
        slot = int(now // item.every_seconds)
        job_id = f"periodic-{item.name}-{slot}"  # RQ 3 ids: letters, digits, _ and -
        try:
            get_queue(item.queue).enqueue(
                item.job,
                job_id=job_id,
                unique=True,
                result_ttl=item.every_seconds * 2,
                failure_ttl=FAILURE_TTL,
                ttl=item.every_seconds,
            )
        except DuplicateJobError:
            continue
        enqueued.append(job_id)
    return enqueued


def run_forever(tick_seconds: float = 5.0) -> None:
    """Enqueue due periodic jobs every ``tick_seconds`` until SIGINT or SIGTERM."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("scheduler started: %s", ", ".join(p.name for p in PERIODIC))
    while not stop.is_set():
        try:
            for job_id in enqueue_due(time.time()):
                log.debug("enqueued %s", job_id)
        except Exception:
            log.exception("scheduler tick failed; retrying")
        stop.wait(tick_seconds)
    log.info("scheduler stopped")
