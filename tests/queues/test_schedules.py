from queues.connection import get_queue
from queues.schedules import PERIODIC, Periodic, enqueue_due


def test_each_slot_is_enqueued_once_even_by_two_schedulers(app):
    periodic = (Periodic("probe", "queues.jobs.maintenance.ping", "default", 60),)
    first = enqueue_due(960_000.0, periodic)
    second = enqueue_due(960_030.0, periodic)  # same 60-second slot, another scheduler
    third = enqueue_due(960_060.0, periodic)  # next slot
    assert first == ["periodic-probe-16000"]
    assert second == []
    assert third == ["periodic-probe-16001"]
    assert get_queue("default").count == 2


def test_housekeeping_is_scheduled_and_runs(app):
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    assert any(p.name == "housekeeping" for p in PERIODIC)
    enqueue_due(2_000_000.0)
    worker = SimpleWorker(
        [get_queue("default")], connection=app.extensions["bpo"].redis, serializer=JSONSerializer
    )
    worker.work(burst=True)
    job = get_queue("default").fetch_job(f"periodic-housekeeping-{2_000_000 // 300}")
    assert job is not None and job.get_status() == "finished"
    assert job.return_value() == {"queues": 5}
