"""``flask queues …``: workers, the scheduler, and a look at the queues."""

import click
from flask.cli import with_appcontext
from rq import Worker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from queues import names
from queues.connection import get_queue, redis_connection


@click.group("queues")
def queues_cli() -> None:
    """RQ workers, scheduler and queue status."""


@queues_cli.command("worker")
@click.argument("queue", type=click.Choice(names.ALL))
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--simple", is_flag=True, help="Run jobs in the worker process (no fork).")
@with_appcontext
def worker(queue: str, burst: bool, simple: bool) -> None:
    """Work QUEUE. One queue per process: RQ moves a job atomically only then."""
    from rq.worker import SimpleWorker

    from queues.runtime import get_app

    get_app()  # adopt the configured app before forking work horses
    worker_class = SimpleWorker if simple else Worker
    w = worker_class([get_queue(queue)], connection=redis_connection(), serializer=JSONSerializer)
    w.work(burst=burst, with_scheduler=True)


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
    """Depth, workers and failed jobs per queue."""
    connection = redis_connection()
    workers = Worker.all(connection=connection)
    click.echo(f"{'queue':<12} {'queued':>7} {'failed':>7} {'workers':>8}")
    for name in names.ALL:
        queue = get_queue(name)
        failed = FailedJobRegistry(queue=queue).count
        serving = sum(1 for w in workers if name in w.queue_names())
        click.echo(f"{name:<12} {queue.count:>7} {failed:>7} {serving:>8}")
