"""Benchmark: task intake through the batch API against a bare INSERT, and CSV memory.

What is measured against what, and why:

* **API batch**: ``POST /api/v1/tasks/batch`` with 10,000 tasks (the five types in
  turn), through the real app in-process: bearer-token auth, JSON parsing, every
  payload validated by its marshmallow schema, duplicate-invoice checks, the task
  rows, their first messages, audit events, work-index rows, routing jobs queued in
  Redis after the commit, and the JSON response.
* **Bare INSERT**: the same 10,000 rows (already valid, already serialised) sent by
  psycopg's ``executemany`` straight into an identical tenant schema's ``tasks``
  table: the floor PostgreSQL imposes for storing them. ``intake_ratio`` is
  ``api rate / raw rate`` (so 1.0 would be "as fast as a bare INSERT"); goal ≥ 0.3.
  The two sides alternate A B B A A B with fresh external references, after a
  warm-up. For context, one round of ``services.create_batch`` alone (the service
  behind the endpoint, without HTTP and JSON) is timed afterwards; it is not part
  of the ratio.
* **CSV**: a 5,000-row and a 50,000-row data-entry CSV are imported through
  ``csvio.import_file`` (both passes), each in a fresh process. After a warm-up
  import of 10 other rows (so one-time costs are not counted), the kernel's
  peak-RSS mark is reset (``/proc/self/clear_refs``) and the import's **peak RSS
  growth** (peak during the import minus RSS before it) is read back from
  ``/proc/self/status``. The goal is that 50,000 rows peak within 1.5x of 5,000
  rows: memory must not grow with the rows. ``csv_peak_mb`` is the 50,000-row
  import's peak growth.

Last line: ``RESULT intake_ratio=<x> csv_50k_s=<s> csv_peak_mb=<mb>``.
"""

import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from _common import app_environ, servers

ROWS = 10_000
CSV_BIG, CSV_SMALL = 50_000, 5_000
GOAL_RATIO = 0.3
GOAL_MEMORY_X = 1.5
FORM = {
    "key": "receipt",
    "name": "Receipt",
    "fields": [
        {"name": "merchant", "label": "Merchant", "type": "text", "required": True},
        {"name": "amount", "label": "Amount", "type": "money", "required": True, "min": "0"},
        {"name": "day", "label": "Date", "type": "date"},
    ],
}


def task_inputs(round_no: int) -> list[dict[str, Any]]:
    """10,000 valid inputs of every type, with references unique to this round."""
    from bpo.demo_work import BOOKS, demo_tasks

    pool = [t for t in demo_tasks("bench", BOOKS["acme"], date(2026, 11, 20)) if "title" not in t]
    rows = []
    for i in range(ROWS):
        task = json.loads(json.dumps(pool[i % len(pool)]))
        task["external_ref"] = f"R{round_no}-{i:06d}"
        if task["type"] == "data_entry.record":
            task["payload"]["form"] = FORM["key"]
            task["payload"]["values"] = {}
        if task["type"] == "accounting.invoice":
            task["payload"]["invoice_number"] = f"N{round_no}-{i}"  # no duplicate flags
        rows.append(task)
    return rows


def raw_rows(inputs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The same tasks as table rows, serialised once, outside the timing."""
    from bpo.work.types import TYPES

    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    return [
        (
            TYPES[t["type"]].kind.value,
            t["type"],
            t.get("title") or TYPES[t["type"]].default_title(t["payload"]),
            t.get("priority", "normal"),
            "new",
            t["external_ref"],
            json.dumps(t["payload"]),
            "[]",
            "client:1",
            now,
            now,
        )
        for t in inputs
    ]


RAW_INSERT = (
    "INSERT INTO tenant_bench_raw.tasks (kind, type, title, priority, status, external_ref,"
    " payload, flags, requester, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def run_intake(database_url: str, redis_url: str, instance: str) -> tuple[float, float, float]:
    from bpo import create_app
    from bpo.core.actors import Actor
    from bpo.core.uow import unit_of_work
    from bpo.dataentry.services import create_form
    from bpo.identity import services as identity
    from bpo.work import services
    from tenants.migrations.runner import migrate_shared
    from tenants.provisioning import provision

    app = create_app(app_environ(database_url, redis_url, instance))
    engine = app.extensions["bpo"].engine
    with app.app_context():
        migrate_shared(engine)
        for slug in ("bench_api", "bench_raw"):
            provision(engine, slug, slug)
            with unit_of_work(slug) as uow:
                create_form(uow, FORM)
        with unit_of_work() as uow:
            token = identity.issue_token(
                uow.session,
                name="bench",
                days=1,
                tenant=identity.tenant_by_slug(uow.session, "bench_api"),
            ).secret
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    actor = Actor("client:1", "bench")

    def batch_side(round_no: int) -> float:
        rows = json.loads(json.dumps(task_inputs(round_no)))  # as decoded from a request
        with app.app_context():
            start = time.perf_counter()
            with unit_of_work("bench_api") as uow:
                result = services.create_batch(uow, rows, actor)
            elapsed = time.perf_counter() - start
        assert len(result.created) == ROWS, len(result.created)
        return elapsed

    def api_side(round_no: int) -> float:
        # Serialised outside the timing, as the raw side's rows are: the client's work.
        body = json.dumps({"tasks": task_inputs(round_no)})
        start = time.perf_counter()
        response = client.post(
            "/api/v1/tasks/batch",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        elapsed = time.perf_counter() - start
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
        assert response.get_json()["created"] == ROWS
        return elapsed

    raw_connection = engine.raw_connection()

    def raw_side(round_no: int) -> float:
        rows = raw_rows(task_inputs(round_no))
        start = time.perf_counter()
        with raw_connection.cursor() as cursor:
            cursor.executemany(RAW_INSERT, rows)
        raw_connection.commit()
        return time.perf_counter() - start

    api_side(90)  # warm-up: imports, plan caches, pools
    raw_side(90)
    api_times, raw_times = [], []
    for round_no, side in enumerate(("api", "raw", "raw", "api", "api", "raw")):
        (api_times if side == "api" else raw_times).append(
            api_side(round_no) if side == "api" else raw_side(round_no)
        )
    batch_s = batch_side(80)
    raw_connection.close()
    engine.dispose()
    return sum(api_times) / len(api_times), sum(raw_times) / len(raw_times), batch_s


def csv_child(database_url: str, redis_url: str, instance: str, rows: int) -> dict[str, float]:
    """Import a ``rows``-row CSV in a fresh process; returns its time and peak memory."""
    code = f"""
import json, re, sys, time
from pathlib import Path
from bpo import create_app
from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.work import csvio
app = create_app()
path = Path(sys.argv[1])
with app.app_context():
    warm = path.with_suffix(".warm.csv")  # every code path once: import 10 other rows
    with path.open() as rows:
        head = [next(rows) for _ in range(11)]
    warm.write_text(head[0] + "".join("W" + line[1:] for line in head[1:]))
    with unit_of_work("bench_raw") as uow:
        csvio.import_file(uow, warm, csvio.DATA_ENTRY, Actor("client:1", "bench"))
    warm.unlink()
    def status(key):
        text = Path("/proc/self/status").read_text()
        return int(re.search(key + r":\\s+(\\d+) kB", text).group(1)) / 1024
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark to now
    before = status("VmRSS")
    start = time.perf_counter()
    with unit_of_work("bench_raw") as uow:
        counts = csvio.import_file(uow, path, csvio.DATA_ENTRY, Actor("client:1", "bench"))
    elapsed = time.perf_counter() - start
    assert counts.created == {rows}, counts
    peak = status("VmHWM")
print(json.dumps({{"seconds": elapsed, "peak_mb": peak, "before_mb": before,
                  "growth_mb": peak - before}}))
"""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as out:
        out.write("external_ref,form,source_text,merchant,amount,day\n")
        for i in range(rows):
            out.write(
                f"C{rows}-{i:06d},receipt,Receipt scan {i},Shop {i % 97},"
                f"{i % 500}.25,2026-11-0{1 + i % 9}\n"
            )
    try:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code, out.name],
            env=app_environ(database_url, redis_url, instance),
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(out.name).unlink()
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    with servers() as (database_url, redis_url), tempfile.TemporaryDirectory() as instance:
        print(
            f"intake: {ROWS:,} tasks per round, POST /api/v1/tasks/batch vs bare executemany,"
            " A B B A A B"
        )
        api_s, raw_s, batch_s = run_intake(database_url, redis_url, instance)
        api_rate, raw_rate = ROWS / api_s, ROWS / raw_s
        ratio = api_rate / raw_rate
        print(f"API batch     {api_s:7.2f} s per 10k  = {api_rate:8.0f} tasks/s")
        print(f"bare INSERT   {raw_s:7.2f} s per 10k  = {raw_rate:8.0f} tasks/s")
        print(
            f"intake_ratio (api rate / raw rate) = {ratio:.2f}  goal >= {GOAL_RATIO}: "
            + ("met" if ratio >= GOAL_RATIO else "NOT met")
        )
        print(
            f"(for context, one round of services.create_batch without HTTP: {batch_s:.2f} s"
            f" = {ROWS / batch_s:.0f} tasks/s, {ROWS / batch_s / raw_rate:.2f} of raw)"
        )
        small = csv_child(database_url, redis_url, instance, CSV_SMALL)
        big = csv_child(database_url, redis_url, instance, CSV_BIG)
        memory_x = big["growth_mb"] / small["growth_mb"]
        for label, r in (("5,000", small), ("50,000", big)):
            print(
                f"CSV {label:>6} rows: {r['seconds']:6.2f} s, peak RSS growth"
                f" {r['growth_mb']:6.1f} MB (RSS before {r['before_mb']:.1f} MB,"
                f" peak {r['peak_mb']:.1f} MB)"
            )
        print(
            f"peak RSS growth 50k / 5k = {memory_x:.2f}  goal <= {GOAL_MEMORY_X}: "
            + ("met" if memory_x <= GOAL_MEMORY_X else "NOT met")
        )
        print(
            f"RESULT intake_ratio={ratio:.2f} csv_50k_s={big['seconds']:.1f}"
            f" csv_peak_mb={big['growth_mb']:.1f}"
        )


if __name__ == "__main__":
    sys.exit(main())
