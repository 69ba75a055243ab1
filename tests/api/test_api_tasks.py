"""The task endpoints: create (idempotent), batch (all or nothing), list, get, messages,
cancel, history, files; and no way from one tenant's token into another's tasks."""

import io

import pytest
from openapi_spec_validator import validate

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.work.models import TaskMessage
from bpo.work.services import get_task, transition
from bpo.work.states import Status
from queues.connection import get_queue
from tests.api.test_api_auth import assert_envelope, bearer, issue
from tests.support.factories import (
    ALL_TYPES,
    ensure_form,
    invoice_task,
    record_task,
    task_count,
    ticket_task,
)
from tests.support.helpers import ids_out_of_reach, unique

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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


@pytest.mark.parametrize("factory", ALL_TYPES, ids=lambda f: f.__name__)
def test_create_each_type_and_read_it_back(client, world, alpha, factory):
    body = _create(client, alpha, factory(external_ref=unique("ref-")))
    assert body["status"] == "new" and body["type"] == factory()["type"]
    fetched = client.get(f"/api/v1/tasks/{body['id']}", headers=alpha)
    assert fetched.status_code == 200 and fetched.get_json()["id"] == body["id"]


def test_a_created_task_is_routed_on_the_queue_of_its_kind_after_commit(client, world, alpha):
    accounting = get_queue("accounting")
    before = accounting.count
    body = _create(client, alpha, invoice_task())
    assert accounting.count == before + 1
    assert accounting.jobs[-1].kwargs == {"tenant": world.alpha, "task_ids": [body["id"]]}


def test_bad_input_names_the_field_and_writes_nothing(client, world, alpha):
    before = task_count(world.alpha)
    bad = invoice_task(payload={"totals": {"subtotal": "14.97", "tax": "1.50", "total": "99.00"}})
    error = assert_envelope(
        client.post("/api/v1/tasks", json=bad, headers=alpha), 400, "validation"
    )
    assert "total" in error["fields"]["payload"]["totals"]
    for junk in (b"not json", b"[1, 2]", b'"text"'):
        response = client.post(
            "/api/v1/tasks", data=junk, headers={**alpha, "Content-Type": "application/json"}
        )
        assert_envelope(response, 400, "validation")
    assert_envelope(
        client.post("/api/v1/tasks", json={"type": "nope", "payload": {}}, headers=alpha),
        400,
        "validation",
    )
    assert task_count(world.alpha) == before


def test_same_external_ref_returns_the_existing_task(client, world, alpha):
    task = ticket_task(external_ref=unique("dup-"))
    first = client.post("/api/v1/tasks", json=task, headers=alpha)
    second = client.post("/api/v1/tasks", json=task, headers=alpha)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Location"].endswith(f"/api/v1/tasks/{first.get_json()['id']}")


def test_batch_is_all_or_nothing(client, world, alpha):
    before = task_count(world.alpha)
    rows = [ticket_task(), invoice_task(), record_task(payload={"values": {"tin": "12"}})]
    error = assert_envelope(
        client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha),
        400,
        "validation",
    )
    assert list(error["fields"]) == ["2"] and "tin" in error["fields"]["2"]["payload"]["values"]
    assert task_count(world.alpha) == before

    rows[2] = record_task()
    response = client.post("/api/v1/tasks/batch", json={"tasks": rows}, headers=alpha)
    assert response.status_code == 201
    assert response.get_json()["created"] == 3 and len(response.get_json()["items"]) == 3
    assert task_count(world.alpha) == before + 3
    assert_envelope(
        client.post("/api/v1/tasks/batch", json={"tasks": []}, headers=alpha),
        400,
        "validation",
    )


def test_list_filters_and_cursor_pagination(client, world, alpha):
    tag = unique("page")
    ids = {_create(client, alpha, ticket_task(title=f"{tag} {i}"))["id"] for i in range(5)}
    seen: list[int] = []
    url = f"/api/v1/tasks?q={tag}&limit=2"
    while url:
        body = client.get(url, headers=alpha).get_json()
        seen += [item["id"] for item in body["items"]]
        url = (
            f"/api/v1/tasks?q={tag}&limit=2&cursor={body['next_cursor']}"
            if body["next_cursor"]
            else None
        )
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    filtered = client.get(f"/api/v1/tasks?q={tag}&kind=accounting", headers=alpha).get_json()
    assert filtered["items"] == []
    by_status = client.get(f"/api/v1/tasks?q={tag}&status=new&status=queued", headers=alpha)
    assert len(by_status.get_json()["items"]) == 5
    for bad in ("status=bogus", "limit=0", "created_from=yesterday", "cursor=zzz", "kind=x"):
        error = assert_envelope(
            client.get(f"/api/v1/tasks?{bad}", headers=alpha), 400, "validation"
        )
        assert bad.split("=")[0] in error["fields"]


def test_messages_cancel_and_history(client, world, alpha):
    task = _create(client, alpha, ticket_task())
    response = client.post(
        f"/api/v1/tasks/{task['id']}/messages", json={"body": "Any news?"}, headers=alpha
    )
    assert response.status_code == 201 and response.get_json()["body"] == "Any news?"
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/messages", json={"body": ""}, headers=alpha),
        400,
        "validation",
    )
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

    cancelled = client.post(
        f"/api/v1/tasks/{task['id']}/cancel", json={"reason": "solved"}, headers=alpha
    )
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=alpha), 409, "conflict"
    )
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/messages", json={"body": "hello?"}, headers=alpha),
        409,
        "conflict",
    )
    history = client.get(f"/api/v1/tasks/{task['id']}/history", headers=alpha).get_json()["items"]
    assert [e["to_status"] for e in history][-1] == "cancelled"
    assert history[-1]["reason"] == "solved" and history[-1]["by"] == "client"


def test_a_started_task_cannot_be_cancelled(client, world, alpha):
    task = _create(client, alpha, ticket_task())
    with unit_of_work(world.alpha) as uow:
        row = get_task(uow, task["id"])
        for status in (Status.QUEUED, Status.ASSIGNED, Status.IN_PROGRESS):
            transition(uow, row, status, SYSTEM)
    assert_envelope(
        client.post(f"/api/v1/tasks/{task['id']}/cancel", headers=alpha), 409, "conflict"
    )


def test_attachments_upload_link_and_download(client, world, alpha):
    upload = client.post(
        "/api/v1/attachments", data={"file": (io.BytesIO(PDF), "scan.pdf")}, headers=alpha
    )
    assert upload.status_code == 201
    attachment = upload.get_json()
    task = _create(
        client, alpha, record_task(payload={"source": {"attachment_id": attachment["id"]}})
    )
    assert [a["id"] for a in task["attachments"]] == [attachment["id"]]
    download = client.get(
        f"/api/v1/tasks/{task['id']}/attachments/{attachment['id']}", headers=alpha
    )
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Type"] == "application/pdf"
    bad = client.post(
        "/api/v1/attachments", data={"file": (io.BytesIO(b"MZ\x90"), "x.pdf")}, headers=alpha
    )
    assert "file" in assert_envelope(bad, 400, "validation")["fields"]
    missing = client.post("/api/v1/attachments", data={}, headers=alpha)
    assert "file" in assert_envelope(missing, 400, "validation")["fields"]


def test_another_tenants_tasks_do_not_exist(client, world, alpha, beta):
    ids_out_of_reach(world.beta, world.alpha)
    upload = client.post(
        "/api/v1/attachments", data={"file": (io.BytesIO(PDF), "b.pdf")}, headers=beta
    )
    b_attachment = upload.get_json()["id"]
    b_task = _create(client, beta, record_task(payload={"source": {"attachment_id": b_attachment}}))
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
    listed = client.get("/api/v1/tasks?limit=200", headers=alpha).get_json()["items"]
    assert all(
        item.get("external_ref") != b_task["external_ref"] or item["external_ref"] is None
        for item in listed
    )
    with unit_of_work(world.beta) as uow:
        assert get_task(uow, b_id).status in (Status.NEW, Status.QUEUED)  # untouched by alpha
    assert_envelope(
        client.get("/api/v1/tasks/99999999999999999999999", headers=alpha), 404, "not_found"
    )


def test_staff_tokens_cannot_use_tenant_endpoints(client, world):
    headers = bearer(issue(staff_email=world.admin_email)[0])
    assert_envelope(client.get("/api/v1/tasks", headers=headers), 403, "forbidden")


def test_openapi_document_validates_and_docs_page_needs_no_token(client, world):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert {"/tasks", "/tasks/batch", "/tasks/{task_id}", "/tasks/{task_id}/cancel"} <= set(
        document["paths"]
    )
    schemas = document["components"]["schemas"]
    assert (
        "Payload_accounting_invoice" in schemas
        and "lines" in schemas["Payload_accounting_invoice"]["properties"]
    )
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/tasks/batch" in html and "external_ref" in html and "cdn" not in html.lower()
