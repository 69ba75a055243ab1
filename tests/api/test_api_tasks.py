"""The task endpoints: create (idempotent), batch (all or nothing), list, get, messages,
cancel, history, files; and no way from one tenant's token into another's tasks."""

import io

import pytest
from sqlalchemy import select

from bpo.core.actors import SYSTEM, Actor
from bpo.core.uow import unit_of_work
from bpo.work.models import Task, TaskMessage
from bpo.work.services import get_task, transition
from bpo.work.states import Status
from queues.connection import get_queue
from tests.api.test_api_auth import assert_envelope, bearer, issue
from tests.support.factories import (
    ALL_TYPES,
    ensure_form,
    invoice_task,
    journal_task,
    record_task,
    task_count,
    ticket_task,
)
from tests.support.helpers import ids_out_of_reach, unique

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
QUEUES = ("data_entry", "accounting", "support", "sla", "default")


@pytest.fixture
def alpha(world):
    ensure_form(world.alpha)
    return bearer(issue(world.alpha, user_email=world.client_alpha_email)[0])


@pytest.fixture
def beta(world):
    ensure_form(world.beta)
    return bearer(issue(world.beta, user_email=world.client_beta_email)[0])


def _create(client, headers, task) -> dict:
    response = client.post("/api/v1/tasks", json=task, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _upload(client, headers, content=PDF, name="scan.pdf") -> dict:
    response = client.post(
        "/api/v1/attachments", data={"file": (io.BytesIO(content), name)}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _queued() -> dict[str, int]:
    return {name: get_queue(name).count for name in QUEUES}


# -- create ----------------------------------------------------------------------


@pytest.mark.parametrize("factory", ALL_TYPES, ids=lambda f: f.__name__)
def test_create_each_type_and_read_it_back(client, world, alpha, factory):
    task = factory(external_ref=unique("ref-"), priority="high")
    response = client.post("/api/v1/tasks", json=task, headers=alpha)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/tasks/{body['id']}")
    assert body["status"] == "new" and body["type"] == task["type"]
    assert body["priority"] == "high" and body["external_ref"] == task["external_ref"]
    fetched = client.get(f"/api/v1/tasks/{body['id']}", headers=alpha)
    assert fetched.status_code == 200 and fetched.get_json() == body


def test_a_records_known_values_are_checked_but_none_is_required(client, world, alpha):
    # The client knows the amount only: the required TIN is the agent's to key.
    made = _create(client, alpha, record_task(payload={"values": {"amount": "10.5"}}))
    assert made["payload"]["values"] == {"amount": "10.5"}
    bad = client.post(
        "/api/v1/tasks", json=record_task(payload={"values": {"amount": "-1"}}), headers=alpha
    )
    assert "amount" in assert_envelope(bad, 422, "validation")["fields"]["payload"]["values"]


def test_amounts_travel_as_decimal_strings(client, world, alpha):
    body = _create(client, alpha, invoice_task())
    assert body["payload"]["totals"] == {"subtotal": "14.97", "tax": "1.50", "total": "16.47"}
    assert body["payload"]["lines"][0]["unit_price"] == "4.99"


def test_a_created_task_is_routed_on_the_queue_of_its_kind_after_commit(client, world, alpha):
    accounting = get_queue("accounting")
    before = accounting.count
    body = _create(client, alpha, invoice_task())
    assert accounting.count == before + 1
    job = accounting.jobs[-1]
    assert job.func_name == "queues.jobs.routing.route_tasks"
    assert job.kwargs == {"tenant": world.alpha, "task_ids": [body["id"]]}
    support = get_queue("support")
    ticket = _create(client, alpha, ticket_task())
    assert support.jobs[-1].kwargs == {"tenant": world.alpha, "task_ids": [ticket["id"]]}


def test_a_refused_request_enqueues_nothing_and_writes_nothing(client, world, alpha):
    before, queued = task_count(world.alpha), _queued()
    bad = invoice_task(payload={"totals": {"subtotal": "14.97", "tax": "1.50", "total": "99.00"}})
    response = client.post("/api/v1/tasks", json=bad, headers=alpha)
    assert "total" in assert_envelope(response, 422, "validation")["fields"]["payload"]["totals"]
    rows = [ticket_task(), {"type": "support.ticket", "payload": {}}]
    assert_envelope(
        client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha), 422, "validation"
    )
    assert task_count(world.alpha) == before and _queued() == queued


def test_bad_input_names_the_field_and_writes_nothing(client, world, alpha):
    before = task_count(world.alpha)
    cases = [
        ({"type": "nope", "payload": {}}, "type"),
        ({"payload": {}}, "type"),
        ({"type": "support.ticket"}, "payload"),
        (ticket_task(priority="asap"), "priority"),
        (ticket_task(title="   "), "title"),
        (ticket_task(external_ref="has space"), "external_ref"),
        (ticket_task(defer_until="2030-01-01T00:00:00"), "defer_until"),  # no time zone
        (ticket_task(surprise=1), "surprise"),
        (record_task(payload={"values": {"tin": "12"}}), "payload"),
    ]
    for task, field in cases:
        error = assert_envelope(
            client.post("/api/v1/tasks", json=task, headers=alpha), 422, "validation"
        )
        assert field in error["fields"], (task, error)
    # Every error in one answer: a bad task field does not hide the payload's errors.
    both = ticket_task(external_ref="has space")
    both["payload"] = {**both["payload"], "subject": "", "requester": {"email": "not-mail"}}
    error = assert_envelope(
        client.post("/api/v1/tasks", json=both, headers=alpha), 422, "validation"
    )
    assert "external_ref" in error["fields"]
    assert {"subject", "requester"} <= set(error["fields"]["payload"]), error
    assert task_count(world.alpha) == before


@pytest.mark.parametrize(
    ("data", "content_type", "problem"),
    [
        (b"not json", "application/json", "not valid JSON"),
        (b'{"type": ', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "array"),
        (b'"text"', "application/json", "string"),
        (b"null", "application/json", "null"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "not valid JSON"),
        (b'{"type": "support.ticket"}', "text/plain", "text/plain"),
        (b"type=support.ticket", "application/x-www-form-urlencoded", "x-www-form-urlencoded"),
        (b"", None, "missing"),
    ],
)
def test_a_body_that_is_not_a_json_object_answers_400(
    client, world, alpha, data, content_type, problem
):
    headers = {**alpha, **({"Content-Type": content_type} if content_type else {})}
    for url in ("/api/v1/tasks", "/api/v1/tasks/batch"):
        error = assert_envelope(client.post(url, data=data, headers=headers), 400, "bad_request")
        assert problem in error["fields"]["body"][0]


def test_nul_characters_are_refused_by_field_not_stored(client, world, alpha):
    """PostgreSQL text cannot hold U+0000: the field is named, nothing is written, no 500."""
    before = task_count(world.alpha)
    task = ticket_task(title="a\x00b")
    task["payload"]["message"] = "hello\x00"
    error = assert_envelope(
        client.post("/api/v1/tasks", json=task, headers=alpha), 422, "validation"
    )
    assert set(error["fields"]) == {"title", "payload"} and "message" in error["fields"]["payload"]
    error = assert_envelope(
        client.post(
            "/api/v1/tasks/batch",
            json={"tasks": [ticket_task(), ticket_task(external_ref="x\x00")]},
            headers=alpha,
        ),
        422,
        "validation",
    )
    assert error["fields"] == {"1": {"external_ref": [error["fields"]["1"]["external_ref"][0]]}}
    assert_envelope(client.get("/api/v1/tasks?q=a%00b", headers=alpha), 422, "validation")
    task_id = _create(client, alpha, ticket_task())["id"]
    for url, body, field in [
        (f"/api/v1/tasks/{task_id}/messages", {"body": "hi\x00"}, "body"),
        (f"/api/v1/tasks/{task_id}/cancel", {"reason": "\x00"}, "reason"),
    ]:
        error = assert_envelope(client.post(url, json=body, headers=alpha), 422, "validation")
        assert field in error["fields"]
    assert task_count(world.alpha) == before + 1
    with unit_of_work(world.alpha) as uow:
        assert get_task(uow, task_id).status == Status.NEW


def test_same_external_ref_returns_the_existing_task(client, world, alpha):
    ref = unique("dup-")
    task = ticket_task(external_ref=ref)
    first = client.post("/api/v1/tasks", json=task, headers=alpha)
    second = client.post("/api/v1/tasks", json=task, headers=alpha)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Location"].endswith(f"/api/v1/tasks/{first.get_json()['id']}")
    with unit_of_work(world.alpha) as uow:
        assert len(uow.session.scalars(select(Task).where(Task.external_ref == ref)).all()) == 1


def test_the_same_external_ref_in_another_tenant_is_another_task(client, world, alpha, beta):
    task = ticket_task(external_ref=unique("both-"))
    assert client.post("/api/v1/tasks", json=task, headers=alpha).status_code == 201
    assert client.post("/api/v1/tasks", json=task, headers=beta).status_code == 201


# -- batch -----------------------------------------------------------------------


def test_batch_is_all_or_nothing(client, world, alpha):
    before, queued = task_count(world.alpha), _queued()
    rows = [ticket_task(), invoice_task(), record_task(payload={"values": {"tin": "12"}})]
    error = assert_envelope(
        client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha),
        422,
        "validation",
    )
    assert list(error["fields"]) == ["2"] and "tin" in error["fields"]["2"]["payload"]["values"]
    assert task_count(world.alpha) == before and _queued() == queued

    rows[2] = record_task()
    response = client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["created"], body["existing"], len(body["items"])) == (3, 0, 3)
    assert all(item["status"] == "new" for item in body["items"])
    assert task_count(world.alpha) == before + 3
    # One routing job per kind of work, naming the created tasks.
    routed = [
        task_id
        for name in ("data_entry", "accounting", "support")
        for task_id in get_queue(name).jobs[-1].kwargs["task_ids"]
    ]
    assert sorted(routed) == sorted(item["id"] for item in body["items"])


def test_batch_lists_every_bad_row_by_index(client, world, alpha):
    before = task_count(world.alpha)
    ref = unique("twice-")
    rows = [
        ticket_task(),
        "not an object",
        ticket_task(priority="asap"),
        ticket_task(external_ref=ref),
        ticket_task(external_ref=ref),
    ]
    error = assert_envelope(
        client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha),
        422,
        "validation",
    )
    assert set(error["fields"]) == {"1", "2", "4"}
    assert "priority" in error["fields"]["2"] and "external_ref" in error["fields"]["4"]
    assert task_count(world.alpha) == before


def test_batch_returns_existing_tasks_instead_of_duplicates(client, world, alpha):
    old = _create(client, alpha, journal_task(external_ref=unique("old-")))
    rows = [journal_task(external_ref=old["external_ref"]), ticket_task(external_ref=unique("n-"))]
    body = client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha).get_json()
    assert (body["created"], body["existing"]) == (1, 1)
    assert old["id"] in [item["id"] for item in body["items"]]
    again = client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha)
    assert again.status_code == 200 and again.get_json()["created"] == 0


def test_the_same_batch_sent_at_once_creates_each_task_once_and_never_fails(app, world, alpha):
    """Eight clients retrying one batch together: every answer 200/201, no 500, and
    each external reference one task (the unique index settles who inserts)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    tag = unique("race-")
    rows = [ticket_task(external_ref=f"{tag}-{i}") for i in range(20)]
    start = Barrier(8)

    def send(_: int) -> tuple[int, int]:
        client = app.test_client()
        start.wait()
        answer = client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha)
        return answer.status_code, (answer.get_json() or {}).get("created", -1)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert all(status in (200, 201) for status, _ in answers), answers
    assert sum(created for _, created in answers) == 20
    with unit_of_work(world.alpha) as uow:
        refs = uow.session.scalars(
            select(Task.external_ref).where(Task.external_ref.like(f"{tag}-%"))
        ).all()
    assert sorted(refs) == sorted(r["external_ref"] for r in rows)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "tasks"), ({"tasks": []}, "tasks"), ({"tasks": {}}, "tasks"), ({"rows": []}, "rows")],
)
def test_batch_shape_errors_name_the_field(client, world, alpha, body, field):
    error = assert_envelope(
        client.post("/api/v1/tasks/batch", json=body, headers=alpha), 422, "validation"
    )
    assert field in error["fields"]


def test_batch_refuses_more_than_50000_tasks(client, world, alpha):
    rows = [{}] * 50_001
    error = assert_envelope(
        client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha), 422, "validation"
    )
    assert "tasks" in error["fields"]


# -- list ------------------------------------------------------------------------


def test_cursor_pagination_walks_every_task_exactly_once(client, world, alpha):
    for i in range(7):
        _create(client, alpha, ticket_task(title=f"walk {i}"))
    with unit_of_work(world.alpha) as uow:
        expected = set(uow.session.scalars(select(Task.id)))
    seen: list[int] = []
    url: str | None = "/api/v1/tasks?limit=3"
    while url:
        body = client.get(url, headers=alpha).get_json()
        assert len(body["items"]) <= 3
        seen += [item["id"] for item in body["items"]]
        url = f"/api/v1/tasks?limit=3&cursor={body['next_cursor']}" if body["next_cursor"] else None
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert seen == sorted(seen, reverse=True)  # newest first


def test_list_filters(client, world, alpha):
    tag = unique("filt")
    tickets = {
        _create(client, alpha, ticket_task(title=f"{tag} {i}", priority="urgent"))["id"]
        for i in range(3)
    }
    invoice = _create(client, alpha, invoice_task(title=f"{tag} invoice"))["id"]

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/v1/tasks?q={tag}&{query}", headers=alpha)
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    assert ids("") == tickets | {invoice}
    assert ids("kind=support") == tickets and ids("type=accounting.invoice") == {invoice}
    assert ids("priority=urgent") == tickets and ids("kind=data_entry") == set()
    assert ids("status=new&status=queued") == tickets | {invoice}
    assert ids("status=done") == set()
    assert ids("created_from=2000-01-01&created_to=2999-12-31") == tickets | {invoice}
    assert ids("created_to=2000-01-01") == set()
    summary = client.get(f"/api/v1/tasks?q={tag}&limit=1", headers=alpha).get_json()["items"][0]
    assert "payload" not in summary and "messages" not in summary and summary["title"]


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "limit=0",
        "limit=201",
        "limit=many",
        "created_from=yesterday",
        "created_to=2026-13-01",
        "cursor=zzz",
        "kind=x",
        "type=x.y",
        "priority=asap",
        f"q={'x' * 201}",
        "bogus=1",
    ],
)
def test_a_bad_filter_answers_422_naming_it(client, world, alpha, query):
    error = assert_envelope(client.get(f"/api/v1/tasks?{query}", headers=alpha), 422, "validation")
    name = query.split("=")[0]
    assert name in error["fields"]
    assert all(isinstance(m, str) and len(m) > 3 for m in error["fields"][name]), error  # words


# -- one task --------------------------------------------------------------------


def test_messages_cancel_and_history(client, world, alpha):
    task = _create(client, alpha, ticket_task())
    response = client.post(
        f"/api/v1/tasks/{task['id']}/messages", json={"body": "Any news?"}, headers=alpha
    )
    assert response.status_code == 201 and response.get_json()["body"] == "Any news?"
    for bad in ({"body": ""}, {"body": "   "}, {}, {"body": 5}, {"body": "x" * 20_001}):
        error = assert_envelope(
            client.post(f"/api/v1/tasks/{task['id']}/messages", json=bad, headers=alpha),
            422,
            "validation",
        )
        assert "body" in error["fields"]
    with unit_of_work(world.alpha) as uow:  # an internal note the client must never see
        uow.session.add(
            TaskMessage(
                task_id=task["id"],
                visibility="internal_note",
                author="staff:1",
                author_name="Agent",
                body="secret note",
            )
        )
    body = client.get(f"/api/v1/tasks/{task['id']}", headers=alpha).get_json()
    first = ticket_task()["payload"]["message"]
    assert [m["body"] for m in body["messages"]] == [first, "Any news?"]
    assert "secret note" not in str(body)

    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/cancel", json={"reason": 5}, headers=alpha),
        422,
        "validation",
    )
    cancelled = client.post(
        f"/api/v1/tasks/{task['id']}/cancel", json={"reason": "solved"}, headers=alpha
    )
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["closed_at"]
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=alpha), 409, "conflict"
    )
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/messages", json={"body": "hello?"}, headers=alpha),
        409,
        "conflict",
    )
    history = client.get(f"/api/v1/tasks/{task['id']}/history", headers=alpha).get_json()["items"]
    assert set(history[-1]) == {"at", "action", "by", "from_status", "to_status", "reason"}
    assert (history[-1]["from_status"], history[-1]["to_status"]) == ("new", "cancelled")
    assert history[-1]["reason"] == "solved" and history[-1]["by"] == "client"


def test_cancel_without_a_body(client, world, alpha):
    task = _create(client, alpha, ticket_task())
    response = client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=alpha)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"


def test_history_never_names_staff(client, world, alpha):
    task = _create(client, alpha, ticket_task())
    agent = Actor("staff:4242", "Agent Smith")
    with unit_of_work(world.alpha) as uow:
        row = get_task(uow, task["id"])
        transition(uow, row, Status.QUEUED, SYSTEM)
        transition(uow, row, Status.ASSIGNED, SYSTEM, "routed to staff:4242")
    response = client.get(f"/api/v1/tasks/{task['id']}/history", headers=alpha)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(e["by"], e["to_status"], e["reason"]) for e in items][-2:] == [
        ("system", "queued", None),
        ("system", "assigned", "routed to an agent"),  # the reason hides the staff id too
    ]
    with unit_of_work(world.alpha) as uow:
        transition(uow, get_task(uow, task["id"]), Status.IN_PROGRESS, agent, "started")
    response = client.get(f"/api/v1/tasks/{task['id']}/history", headers=alpha)
    assert response.get_json()["items"][-1]["by"] == "provider"
    assert "Smith" not in response.get_data(as_text=True)
    assert "4242" not in response.get_data(as_text=True)


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.WAITING_ON_CLIENT, Status.DONE])
def test_a_started_or_closed_task_cannot_be_cancelled(client, world, alpha, status):
    task = _create(client, alpha, ticket_task())
    path = {
        Status.WAITING_ON_CLIENT: [
            Status.QUEUED,
            Status.ASSIGNED,
            Status.IN_PROGRESS,
            Status.WAITING_ON_CLIENT,
        ],
        Status.IN_PROGRESS: [Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS],
        Status.DONE: [
            Status.QUEUED,
            Status.ASSIGNED,
            Status.IN_PROGRESS,
            Status.IN_REVIEW,
            Status.DONE,
        ],
    }[status]
    with unit_of_work(world.alpha) as uow:
        row = get_task(uow, task["id"])
        for step in path:
            transition(uow, row, step, SYSTEM)
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=alpha), 409, "conflict"
    )
    with unit_of_work(world.alpha) as uow:
        assert get_task(uow, task["id"]).status == status


def test_a_message_answers_a_question_and_resumes_the_work(client, world, alpha):
    task = _create(client, alpha, ticket_task())
    with unit_of_work(world.alpha) as uow:
        row = get_task(uow, task["id"])
        for step in (Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_ON_CLIENT):
            transition(uow, row, step, SYSTEM)
    response = client.post(
        f"/api/v1/tasks/{task['id']}/messages", json={"body": "Here it is"}, headers=alpha
    )
    assert response.status_code == 201
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=alpha).get_json()["status"] == (
        "in_progress"
    )


# -- files -----------------------------------------------------------------------


def test_attachments_upload_link_and_download(client, world, alpha):
    attachment = _upload(client, alpha)
    assert attachment["filename"] == "scan.pdf" and attachment["size"] == len(PDF)
    assert attachment["content_type"] == "application/pdf"
    task = _create(
        client, alpha, record_task(payload={"source": {"attachment_id": attachment["id"]}})
    )
    assert [a["id"] for a in task["attachments"]] == [attachment["id"]]
    download = client.get(
        f"/api/v1/tasks/{task['id']}/attachments/{attachment['id']}", headers=alpha
    )
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"file": (io.BytesIO(b"MZ\x90"), "x.pdf")}, "not a application/pdf"),
        ({"file": (io.BytesIO(b"hello"), "x.exe")}, ".exe"),
        ({"file": (io.BytesIO(b""), "x.txt")}, "empty"),
        ({"file": (io.BytesIO(b"\xff\xfe"), "x.txt")}, "UTF-8"),
        ({"other": (io.BytesIO(PDF), "x.pdf")}, "missing"),
        ({}, "missing"),
    ],
)
def test_a_refused_upload_names_file(client, world, alpha, data, problem):
    response = client.post("/api/v1/attachments", data=data, headers=alpha)
    error = assert_envelope(response, 422, "validation")
    assert problem in " ".join(error["fields"]["file"])


def test_an_upload_over_the_size_limit_names_file(app, client, world, alpha):
    app.config["BPO_MAX_ATTACHMENT_BYTES"] = 1024
    try:
        response = client.post(
            "/api/v1/attachments",
            data={"file": (io.BytesIO(b"a" * 2048), "big.txt")},
            headers=alpha,
        )
    finally:
        app.config.pop("BPO_MAX_ATTACHMENT_BYTES")
    assert "larger" in assert_envelope(response, 422, "validation")["fields"]["file"][0]


def test_a_file_is_reachable_only_through_its_own_task(client, world, alpha):
    linked = _upload(client, alpha)
    loose = _upload(client, alpha, b"loose", "loose.txt")
    owner = _create(client, alpha, record_task(payload={"source": {"attachment_id": linked["id"]}}))
    other = _create(client, alpha, ticket_task())
    for task_id, attachment_id in [
        (other["id"], linked["id"]),  # a file of another task of the same tenant
        (owner["id"], loose["id"]),  # a file of no task yet
        (owner["id"], 99_999_999),
    ]:
        response = client.get(f"/api/v1/tasks/{task_id}/attachments/{attachment_id}", headers=alpha)
        assert_envelope(response, 404, "not_found")


# -- isolation and auth ----------------------------------------------------------


def test_another_tenants_tasks_do_not_exist(client, world, alpha, beta):
    ids_out_of_reach(world.beta, world.alpha)
    b_attachment = _upload(client, beta, name="b.pdf")["id"]
    b_task = _create(
        client,
        beta,
        record_task(
            external_ref=unique("beta-"), payload={"source": {"attachment_id": b_attachment}}
        ),
    )
    b_id = b_task["id"]
    # One of alpha's own tasks: beta's file must not be reachable through it either.
    a_task = _create(client, alpha, ticket_task())
    probes = [
        ("get", f"/api/v1/tasks/{b_id}", None),
        ("get", f"/api/v1/tasks/{b_id}/history", None),
        ("post", f"/api/v1/tasks/{b_id}/messages", {"body": "hi"}),
        ("post", f"/api/v1/tasks/{b_id}/cancel", {}),
        ("get", f"/api/v1/tasks/{b_id}/attachments/{b_attachment}", None),
        ("get", f"/api/v1/tasks/{a_task['id']}/attachments/{b_attachment}", None),
    ]
    for method, url, body in probes:
        response = getattr(client, method)(url, json=body, headers=alpha)
        assert_envelope(response, 404, "not_found")
    # Nor can alpha link beta's file to a task of its own.
    error = assert_envelope(
        client.post(
            "/api/v1/tasks",
            json=record_task(payload={"source": {"attachment_id": b_attachment}}),
            headers=alpha,
        ),
        422,
        "validation",
    )
    assert "attachment_id" in error["fields"]["payload"]["source"]
    listed: list[dict] = []
    url: str | None = "/api/v1/tasks?limit=200"
    while url:
        body = client.get(url, headers=alpha).get_json()
        listed += body["items"]
        url = (
            f"/api/v1/tasks?limit=200&cursor={body['next_cursor']}" if body["next_cursor"] else None
        )
    assert a_task["id"] in {item["id"] for item in listed}
    assert b_id not in {item["id"] for item in listed}
    assert b_task["external_ref"] not in {item["external_ref"] for item in listed}
    searched = client.get(f"/api/v1/tasks?q={b_task['external_ref']}", headers=alpha)
    assert searched.get_json()["items"] == []
    with unit_of_work(world.beta) as uow:
        row = get_task(uow, b_id)
        assert row.status in (Status.NEW, Status.QUEUED)  # untouched by alpha
        assert [m.body for m in row.messages if m.body == "hi"] == []
    for url in ("/api/v1/tasks/99999999999999999999999", "/api/v1/tasks/0", "/api/v1/tasks/-1"):
        assert_envelope(client.get(url, headers=alpha), 404, "not_found")


ENDPOINTS = [
    ("post", "/api/v1/tasks", ticket_task()),
    ("post", "/api/v1/tasks/batch", {"tasks": [ticket_task()]}),
    ("get", "/api/v1/tasks", None),
    ("get", "/api/v1/tasks/1", None),
    ("get", "/api/v1/tasks/1/history", None),
    ("post", "/api/v1/tasks/1/messages", {"body": "hi"}),
    ("post", "/api/v1/tasks/1/cancel", {}),
    ("post", "/api/v1/attachments", None),
    ("get", "/api/v1/tasks/1/attachments/1", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_staff_tokens_are_refused_with_403(client, world, method, url, body):
    headers = bearer(issue(staff_email=world.admin_email)[0])
    response = getattr(client, method)(url, json=body, headers=headers)
    assert "tenant-scoped" in assert_envelope(response, 403, "forbidden")["message"]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_no_token_is_refused_with_401(client, world, method, url, body):
    response = getattr(client, method)(url, json=body)
    assert_envelope(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00", "1900-01-01T00:00:00Z"]
)
def test_defer_until_out_of_range_is_refused_not_a_crash(client, world, alpha, instant):
    before = task_count(world.alpha)
    response = client.post("/api/v1/tasks", json=ticket_task(defer_until=instant), headers=alpha)
    assert "defer_until" in assert_envelope(response, 422, "validation")["fields"]
    assert task_count(world.alpha) == before


def test_portal_search_with_a_nul_is_a_clear_error(alpha_portal, world):
    response = alpha_portal.get(f"/portal/{world.alpha}/tasks?q=a%00b")
    assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
