"""``flask queues …``: workers, the scheduler, and a look at the queues."""

import click
from flask.cli import with_appcontext
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

from queues import names
from queues.connection import get_queue, redis_connection


@click.group("queues")
def queues_cli() -> None:
    """RQ workers, scheduler and queue status."""


@queues_cli.command("worker")
@click.argument("queue", type=click.Choice(names.ALL))
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Fork a work horse per job (RQ's Worker) instead of running jobs in the worker.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    envvar="BPO_WORKER_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="INFO logs every job (RQ's default); WARNING only retries and failures.",
)
@with_appcontext
def worker(queue: str, burst: bool, fork: bool, log_level: str) -> None:
    """Work QUEUE. One queue per process: RQ moves a job atomically only then.

    Jobs run in the worker process itself (RQ's SimpleWorker) unless ``--fork``: the
    platform's jobs are short transactions (a routing job takes a few milliseconds),
    and a fork per job plus the new database connection its horse must open cost
    several times that (bench/routing.py: 150 routed/s in-process, 27/s forking).
    Timeouts still hold (RQ's SIGALRM death penalty); a worker that dies is
    restarted by its supervisor (``bpo up``, systemd), and PostgreSQL keeps the work.
    """
    from queues.runtime import get_app

    get_app()  # adopt the configured app before forking work horses
    make_worker(queue, fork=fork).work(
        burst=burst, with_scheduler=True, logging_level=log_level.upper()
    )


# RQ's worker retries taking its queue's scheduler (which moves due timers and retries
# into the queue) at each maintenance, every 10 minutes by default: a worker restarted
# after its predecessor was killed would leave timers waiting that long. Every minute.
MAINTENANCE_SECONDS = 60

# How long a worker's registration outlives its last sign of life: it is renewed for
# this plus a minute whenever the worker heartbeats (an idle one every TTL - 15 s, when
# its wait for a job times out). RQ's default, 7 minutes, kept a killed worker in
# ``queues info`` for up to 8; with one minute it is gone within 2.
WORKER_TTL_SECONDS = 60


def make_worker(queue: str, *, fork: bool = False) -> BaseWorker:
    """The worker ``flask queues worker QUEUE`` runs: jobs in-process (RQ's
    SimpleWorker) unless ``fork``, JSON, the platform's maintenance and TTL."""
    from rq.worker import SimpleWorker

    worker_class: type[BaseWorker] = Worker if fork else SimpleWorker
    return worker_class(
        [get_queue(queue)],
        connection=redis_connection(),
        serializer=JSONSerializer,
        maintenance_interval=MAINTENANCE_SECONDS,
        worker_ttl=WORKER_TTL_SECONDS,
    )


@queues_cli.command("scheduler")
@click.option("--tick", default=5.0, show_default=True, help="Seconds between checks.")
@with_appcontext
def scheduler(tick: float) -> None:
    """Enqueue periodic jobs (housekeeping; later the reconciler and SLA sweep)."""
    from queues.schedules import run_forever

    run_forever(tick)


@queues_cli.command("info")
@with_appcontext
def info() -> None:
    """Per queue: jobs queued, started, scheduled, deferred, failed, and workers."""
    connection = redis_connection()
    workers = Worker.all(connection=connection)
    columns = ("queued", "started", "scheduled", "deferred", "failed", "workers")
    click.echo(f"{'queue':<12}" + "".join(f" {c:>9}" for c in columns))
    for name in names.ALL:
        queue = get_queue(name)
        counts = (
            queue.count,
            queue.started_job_registry.count,
            queue.scheduled_job_registry.count,
            queue.deferred_job_registry.count,
            queue.failed_job_registry.count,
            sum(1 for w in workers if name in w.queue_names()),
        )
        click.echo(f"{name:<12}" + "".join(f" {n:>9}" for n in counts))


@queues_cli.command("requeue-failed")
@click.option(
    "--queue", "queue_names", multiple=True, type=click.Choice(names.ALL), help="Only this queue."
)
@with_appcontext
def requeue_failed(queue_names: tuple[str, ...]) -> None:
    """Put failed jobs back on their queue (every queue unless --queue is given).

    A task its failed routing job sent to ``exception`` stays there: a supervisor
    requeues those from the pool page.
    """
    total = 0
    for name in queue_names or names.ALL:
        registry = get_queue(name).failed_job_registry
        requeued = 0
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
            except (InvalidJobOperation, NoSuchJobError):
                continue  # requeued by someone else meanwhile, or expired
            requeued += 1
        if requeued:
            click.echo(f"{name}: requeued {requeued} failed job(s)")
        total += requeued
    click.echo(f"Requeued {total} failed job(s).")
