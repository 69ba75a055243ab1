"""Everything RQ: queue names, the JSON-only connection, jobs, workers, schedules.

No other package imports ``rq``. The platform hands work over as a dotted job path
plus ids (:class:`bpo.core.uow.Deferred`); PostgreSQL stays the record of truth,
so losing Redis loses no task.
"""
