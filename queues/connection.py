"""Queues bound to the app's Redis, always with RQ's JSON serializer.

RQ's default serializer is pickle, which its own docs call unsafe; every queue,
job and worker here uses ``JSONSerializer`` so a job is plain data: a dotted
function path and ids.
"""

from flask import current_app
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from queues import names

# Keep what finished or failed for a while, not RQ's default of a year of failures.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def redis_connection() -> Redis:
    connection: Redis = current_app.extensions["bpo"].redis
    return connection


def get_queue(name: str, connection: Redis | None = None) -> Queue:
    if name not in names.ALL:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(names.ALL)}")
    return Queue(name, connection=connection or redis_connection(), serializer=JSONSerializer)
