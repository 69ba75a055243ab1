"""Portal task pages: submit each type with field errors, list and search, a task's
page (history, messages, reply, cancel, files), and no way into another tenant."""

import io
import re

import pytest

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.web.portal.taskforms import flat_values
from bpo.work.models import TaskMessage
from bpo.work.services import create_task, get_task, transition
from bpo.work.states import Status
from tests.support.factories import (
    ALL_TYPES,
    ensure_form,
    invoice_task,
    journal_task,
    reconciliation_task,
    record_task,
    task_count,
    ticket_task,
)
from tests.support.helpers import PASSWORD, csrf_token, ids_out_of_reach, login, unique

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _form_data(task: dict) -> dict[str, str]:
    """A task input as the portal form posts it (the same paths the inputs carry)."""
    data = flat_values({k: v for k, v in task.items() if k != "type"})
    return data


def _submit(client, tenant: str, task: dict, files: dict | None = None):
    url = f"/portal/{tenant}/tasks/new/{task['type']}"
    data = {**_form_data(task), "csrf_token": csrf_token(client, url), **(files or {})}
    return client.post(url, data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("factory", ALL_TYPES, ids=lambda f: f.__name__)
def test_each_type_can_be_submitted_and_is_shown(alpha_client, world, factory):
    ref = unique("web-")
    response = _submit(alpha_client, world.alpha, factory(external_ref=ref))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = alpha_client.get(response.location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ref in html and "submitted" in html


def test_every_type_has_a_form_page(alpha_client, world):
    chooser = alpha_client.get(f"/portal/{world.alpha}/tasks/new").get_data(as_text=True)
    for factory in ALL_TYPES:
        type_name = factory()["type"]
        assert f"/tasks/new/{type_name}" in chooser
        assert alpha_client.get(f"/portal/{world.alpha}/tasks/new/{type_name}").status_code == 200
    assert alpha_client.get(f"/portal/{world.alpha}/tasks/new/nope.nothing").status_code == 404


@pytest.mark.parametrize(
    ("task", "path", "text"),
    [
        (
            invoice_task(
                payload={"totals": {"subtotal": "14.97", "tax": "1.50", "total": "20.00"}}
            ),
            "payload.totals.total",
            "subtotal plus tax is 16.47",
        ),
        (
            invoice_task(
                payload={"lines": [{"description": "x", "quantity": "abc", "unit_price": "1"}]}
            ),
            "payload.lines.0.quantity",
            "Not a valid number",
        ),
        (
            journal_task(
                payload={"lines": [{"account": "1", "debit": "5"}, {"account": "2", "credit": "4"}]}
            ),
            "payload.lines",
            "debits",
        ),
        (
            ticket_task(payload={"requester": {"name": "Kim", "email": "not-an-email"}}),
            "payload.requester.email",
            "email",
        ),
        (
            {
                "type": "data_entry.record",
                "payload": {"form": "w9", "source": {"text": "x"}, "values": {"tin": "12"}},
            },
            "payload.values.tin",
            "expected format",
        ),
        (
            reconciliation_task(payload={"closing_balance": "9999.00"}),
            "payload.closing_balance",
            "opening balance plus the lines is 1250.50",
        ),
        (
            reconciliation_task(
                payload={"lines": [{"date": "2026-09-30", "description": "x", "amount": "250.50"}]}
            ),
            "payload.lines.0.date",
            "outside the period",
        ),
        (
            journal_task(payload={"lines": [{"account": "1", "debit": "5", "credit": "5"}] * 2}),
            "payload.lines.1.debit",
            "either a debit or a credit",
        ),
        (ticket_task(priority="whenever"), "priority", "Must be one of"),
    ],
)
def test_bad_input_shows_the_error_next_to_its_field_and_writes_nothing(
    alpha_client, world, task, path, text
):
    before = task_count(world.alpha)
    response = _submit(alpha_client, world.alpha, task)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error_id = path.replace(".", "-") + "-error"
    if path == "payload.lines":
        assert text in html  # a whole-table problem sits above the table
    else:
        found = re.search(rf'id="{re.escape(error_id)}">([^<]*)<', html)
        assert found and text.lower() in found.group(1).lower(), html[:3000]
        assert 'aria-invalid="true"' in html
    assert "Nothing was submitted" in html
    assert task_count(world.alpha) == before


def test_what_was_typed_is_kept_after_an_error(alpha_client, world):
    task = invoice_task(
        payload={"vendor": "Kept Vendor Ltd", "totals": {"subtotal": "1", "tax": "0", "total": "1"}}
    )
    html = _submit(alpha_client, world.alpha, task).get_data(as_text=True)
    assert 'value="Kept Vendor Ltd"' in html and 'value="A4 paper"' in html


def test_record_with_an_uploaded_source_file(alpha_client, world):
    task = {"type": "data_entry.record", "payload": {"form": "w9"}}
    response = _submit(
        alpha_client, world.alpha, task, files={"payload.source_file": (io.BytesIO(PDF), "w9.pdf")}
    )
    assert response.status_code == 302
    page = alpha_client.get(response.location).get_data(as_text=True)
    link = re.search(r'href="([^"]+/attachments/\d+)"', page)
    assert link and "w9.pdf" in page
    download = alpha_client.get(link.group(1))
    assert download.status_code == 200 and download.data == PDF
    bad = _submit(
        alpha_client, world.alpha, task, files={"payload.source_file": (io.BytesIO(b"MZ"), "x.pdf")}
    )
    assert bad.status_code == 400 and 'id="payload-source_file-error"' in bad.get_data(as_text=True)


def test_list_filters_and_search(alpha_client, world):
    tag = unique("find")
    with unit_of_work(world.alpha) as uow:
        create_task(uow, ticket_task(title=f"{tag} ticket"), SYSTEM)
        create_task(uow, invoice_task(title=f"{tag} invoice", priority="urgent"), SYSTEM)
    base = f"/portal/{world.alpha}/tasks?q={tag}"
    html = alpha_client.get(base).get_data(as_text=True)
    assert f"{tag} ticket" in html and f"{tag} invoice" in html
    html = alpha_client.get(base + "&kind=accounting").get_data(as_text=True)
    assert f"{tag} ticket" not in html and f"{tag} invoice" in html
    html = alpha_client.get(base + "&priority=urgent&status=new").get_data(as_text=True)
    assert f"{tag} invoice" in html and f"{tag} ticket" not in html
    bad = alpha_client.get(f"/portal/{world.alpha}/tasks?created_from=soon&limit=-1")
    assert bad.status_code == 400
    assert "created_from" in bad.get_data(as_text=True)


def test_task_page_history_messages_reply_and_internal_notes(alpha_client, world):
    with unit_of_work(world.alpha) as uow:
        task = create_task(uow, ticket_task(), SYSTEM).task
        for status in (
            Status.QUEUED,
            Status.ASSIGNED,
            Status.IN_PROGRESS,
            Status.WAITING_ON_CLIENT,
        ):
            transition(
                uow,
                task,
                status,
                SYSTEM,
                {
                    Status.WAITING_ON_CLIENT: "need the order number",
                    Status.ASSIGNED: "routed to staff:77",
                }.get(status),
            )
        uow.session.add_all(
            [
                TaskMessage(
                    task=task,
                    visibility="public_reply",
                    author="staff:1",
                    author_name="Agent Ann",
                    body="Which order is it?",
                ),
                TaskMessage(
                    task=task,
                    visibility="internal_note",
                    author="staff:1",
                    author_name="Agent Ann",
                    body="customer seems upset",
                ),
            ]
        )
        task_id = task.id
    url = f"/portal/{world.alpha}/tasks/{task_id}"
    html = alpha_client.get(url).get_data(as_text=True)
    assert "The provider asked a question" in html and "Which order is it?" in html
    assert '<blockquote class="question pre">Which order is it?</blockquote>' in html
    assert "customer seems upset" not in html
    assert "need the order number" in html and "waiting on client" in html
    assert "routed to an agent" in html and "staff:77" not in html  # no staff ids
    assert "Cancel this task" not in html  # started: no cancel button

    empty = alpha_client.post(
        f"{url}/messages", data={"body": " ", "csrf_token": csrf_token(alpha_client, url)}
    )
    assert (
        empty.status_code == 400 and "write a message" in empty.get_data(as_text=True).lower()
    ) or "empty" in empty.get_data(as_text=True)
    sent = alpha_client.post(
        f"{url}/messages", data={"body": "Order 5512", "csrf_token": csrf_token(alpha_client, url)}
    )
    assert sent.status_code == 302
    with unit_of_work(world.alpha) as uow:
        assert get_task(uow, task_id).status == Status.IN_PROGRESS  # the answer resumed the work
    assert "Order 5512" in alpha_client.get(url).get_data(as_text=True)
    refused = alpha_client.post(f"{url}/cancel", data={"csrf_token": csrf_token(alpha_client, url)})
    assert refused.status_code == 409 and "can no longer be cancelled" in refused.get_data(
        as_text=True
    )


def test_cancel_an_unstarted_task(alpha_client, world):
    with unit_of_work(world.alpha) as uow:
        task_id = create_task(uow, ticket_task(), SYSTEM).task.id
    url = f"/portal/{world.alpha}/tasks/{task_id}"
    assert "Cancel this task" in alpha_client.get(url).get_data(as_text=True)
    response = alpha_client.post(
        f"{url}/cancel", data={"reason": "sorted it", "csrf_token": csrf_token(alpha_client, url)}
    )
    assert response.status_code == 302
    html = alpha_client.get(url).get_data(as_text=True)
    assert "sorted it" in html
    with unit_of_work(world.alpha) as uow:
        assert get_task(uow, task_id).status == Status.CANCELLED
    no_csrf = alpha_client.post(f"{url}/cancel", data={})
    assert no_csrf.status_code == 400


def test_another_tenants_tasks_and_files_are_unreachable(client, world):
    ensure_form(world.beta)
    ids_out_of_reach(world.beta, world.alpha)
    with unit_of_work(world.beta) as uow:
        from bpo.work import attachments

        b_attachment = attachments.store(uow, io.BytesIO(PDF), "beta-secret.pdf", SYSTEM)
        b_task = create_task(
            uow,
            {
                "type": "data_entry.record",
                "payload": {"form": "w9", "source": {"attachment_id": b_attachment.id}},
                "title": "beta only task",
            },
            SYSTEM,
        ).task
        b_id, b_att = b_task.id, b_attachment.id
    with unit_of_work(world.alpha) as uow:
        a_id = create_task(uow, ticket_task(), SYSTEM).task.id
    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    token = csrf_token(client, f"/portal/{world.alpha}/tasks")
    for method, url in (
        ("get", f"/portal/{world.alpha}/tasks/{b_id}"),
        ("post", f"/portal/{world.alpha}/tasks/{b_id}/messages"),
        ("post", f"/portal/{world.alpha}/tasks/{b_id}/cancel"),
        ("get", f"/portal/{world.alpha}/tasks/{b_id}/attachments/{b_att}"),
        ("get", f"/portal/{world.alpha}/tasks/{a_id}/attachments/{b_att}"),
    ):
        response = getattr(client, method)(url, data={"csrf_token": token, "body": "hi"})
        html = response.get_data(as_text=True)
        assert "beta only task" not in html and "beta-secret" not in html and response.data != PDF
        assert response.status_code == 404, url
    assert "beta only task" not in client.get(f"/portal/{world.alpha}/tasks?limit=200").get_data(
        as_text=True
    )
    # Alpha's session on beta's portal pages: sent to beta's login.
    response = client.get(f"/portal/{world.beta}/tasks/{b_id}")
    assert response.status_code == 302 and "/login" in response.location
    with unit_of_work(world.beta) as uow:
        assert get_task(uow, b_id).status in (Status.NEW, Status.QUEUED)
        assert not [m for m in get_task(uow, b_id).messages if m.body == "hi"]


def test_a_beta_session_is_refused_on_alphas_task_urls(client, world):
    with unit_of_work(world.alpha) as uow:
        a_id = create_task(uow, ticket_task(title="alpha only task"), SYSTEM).task.id
    login(client, f"/portal/{world.beta}/login", world.client_beta_email)
    token = csrf_token(client, f"/portal/{world.beta}/tasks")
    before = task_count(world.alpha)
    for method, url in (
        ("get", f"/portal/{world.alpha}/tasks"),
        ("get", f"/portal/{world.alpha}/tasks/{a_id}"),
        ("get", f"/portal/{world.alpha}/tasks/new/support.ticket"),
        ("post", f"/portal/{world.alpha}/tasks/new/support.ticket"),
        ("post", f"/portal/{world.alpha}/tasks/{a_id}/messages"),
        ("post", f"/portal/{world.alpha}/tasks/{a_id}/cancel"),
    ):
        response = getattr(client, method)(
            url, data={"csrf_token": token, "body": "hi", **_form_data(ticket_task())}
        )
        assert response.status_code == 302, (url, response.status_code)
        assert response.location.startswith(f"/portal/{world.alpha}/login")
        assert "alpha only task" not in response.get_data(as_text=True)
    with unit_of_work(world.alpha) as uow:
        task = get_task(uow, a_id)
        assert task.status == Status.NEW and not [m for m in task.messages if m.body == "hi"]
    assert task_count(world.alpha) == before


def test_a_likely_duplicate_invoice_is_flagged_on_its_page(alpha_client, world):
    number = unique("DUP-")
    first = _submit(alpha_client, world.alpha, invoice_task(payload={"invoice_number": number}))
    first_id = int(first.location.rsplit("/", 1)[1])
    second = _submit(alpha_client, world.alpha, invoice_task(payload={"invoice_number": number}))
    assert second.status_code == 302
    html = alpha_client.get(second.location).get_data(as_text=True)
    assert "same vendor and invoice number as task" in html
    assert f'href="/portal/{world.alpha}/tasks/{first_id}"' in html
    assert "same vendor and invoice number" not in alpha_client.get(first.location).get_data(
        as_text=True
    )


def test_the_task_page_presents_each_payload_with_its_sums(alpha_client, world):
    invoice = invoice_task(
        payload={
            "lines": [
                {"description": "Toner", "quantity": "2.5", "unit_price": "4.00", "tax_rate": "0"},
                {"description": "Paper", "quantity": "1.5", "unit_price": "4", "tax_rate": "20"},
            ],
            "totals": {"subtotal": "16.00", "tax": "1.20", "total": "17.20"},
        }
    )
    html = alpha_client.get(_submit(alpha_client, world.alpha, invoice).location).get_data(
        as_text=True
    )
    assert "Toner" in html and ">10.00<" in html and ">6.00<" in html  # each line's amount
    assert "17.20 USD" in html
    journal = journal_task(
        payload={
            "lines": [
                {"account": "6100", "debit": "120.50"},
                {"account": "6200", "debit": "79.50"},
                {"account": "2100", "credit": "200.00"},
            ]
        }
    )
    html = alpha_client.get(_submit(alpha_client, world.alpha, journal).location).get_data(
        as_text=True
    )
    assert re.search(r"Totals \(GBP\).*>200\.00<.*>200\.00<", html, re.S)
    html = alpha_client.get(
        _submit(alpha_client, world.alpha, reconciliation_task()).location
    ).get_data(as_text=True)
    assert "Movement (2 lines)" in html and ">250.50<" in html and "1250.50 EUR" in html
    html = alpha_client.get(
        _submit(
            alpha_client, world.alpha, record_task(payload={"values": {"tin": "123456789"}})
        ).location
    ).get_data(as_text=True)
    assert "<dt>TIN</dt><dd>123456789</dd>" in html and "W-9" in html


def test_times_are_read_and_shown_in_the_viewers_zone(client, world):
    from bpo.identity.models import ClientRole
    from bpo.identity.services import create_client

    email = f"{unique('tokyo')}@alpha.test"
    with unit_of_work(world.alpha) as uow:
        create_client(
            uow.session,
            email=email,
            name="Tokyo clerk",
            role=ClientRole.CLIENT_USER,
            password=PASSWORD,
            timezone="Asia/Tokyo",
        )
    assert login(client, f"/portal/{world.alpha}/login", email).status_code == 302
    task = ticket_task(defer_until="2026-12-01T09:00")
    response = _submit(client, world.alpha, task)
    assert response.status_code == 302
    task_id = int(response.location.rsplit("/", 1)[1])
    with unit_of_work(world.alpha) as uow:
        stored = get_task(uow, task_id).defer_until
        assert stored is not None and stored.isoformat() == "2026-12-01T00:00:00+00:00"
    html = client.get(response.location).get_data(as_text=True)
    assert "2026-12-01 09:00 JST" in html
    assert re.search(r"Submitted</dt><dd>\d{4}-\d\d-\d\d \d\d:\d\d JST", html)


def test_the_list_pages_with_a_cursor_and_shows_no_sla_as_a_dash(alpha_client, world):
    tag = unique("page")
    with unit_of_work(world.alpha) as uow:
        for n in range(3):
            create_task(uow, ticket_task(title=f"{tag} {n}"), SYSTEM)
    html = alpha_client.get(f"/portal/{world.alpha}/tasks?q={tag}&limit=2").get_data(as_text=True)
    assert f"{tag} 2" in html and f"{tag} 1" in html and f"{tag} 0" not in html
    assert "<td>\u2013</td>" in html  # no SLA yet: an en dash
    link = re.search(r'href="([^"]+cursor=[^"]+)">Next page', html)
    assert link, html
    html = alpha_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert f"{tag} 0" in html and f"{tag} 2" not in html and "Next page" not in html


def _done_with_result(tenant: str, result: dict) -> int:
    """A ticket the provider finished with ``result`` (as hand-in stores it)."""
    with unit_of_work(tenant) as uow:
        task = create_task(uow, ticket_task(title="refund question"), SYSTEM).task
        task.status, task.result = Status.DONE, result
        return task.id


def test_the_client_sees_and_downloads_the_work_done_and_nobody_else_does(client, world):
    from tests.api.test_api_auth import bearer, issue

    result = {
        "resolution": "Refund of 42.10 EUR sent to the card on file.",
        "resolved": True,
        "by": "staff:7",
        "handed_in_at": "2026-11-30T15:04:00+00:00",
    }
    done = _done_with_result(world.alpha, result)
    with unit_of_work(world.alpha) as uow:
        open_id = create_task(uow, ticket_task(), SYSTEM).task.id
    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)

    page = client.get(f"/portal/{world.alpha}/tasks/{done}").get_data(as_text=True)
    assert "The work done" in page and "Refund of 42.10 EUR sent" in page
    assert "staff:7" not in page
    download = client.get(f"/portal/{world.alpha}/tasks/{done}/result.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.get_json()["result"] == {"resolution": result["resolution"], "resolved": True}
    # Not done yet: no result, on the page or as a file.
    assert "The work done" not in client.get(f"/portal/{world.alpha}/tasks/{open_id}").get_data(
        as_text=True
    )
    assert client.get(f"/portal/{world.alpha}/tasks/{open_id}/result.json").status_code == 404

    headers = bearer(issue(world.alpha, user_email=world.client_alpha_email)[0])
    api = client.get(f"/api/v1/tasks/{done}", headers=headers).get_json()
    assert api["result"]["resolution"] == result["resolution"] and "by" not in api["result"]
    assert client.get(f"/api/v1/tasks/{open_id}", headers=headers).get_json()["result"] is None

    # Beta's client, by portal or API, reaches none of it.
    ids_out_of_reach(world.beta, world.alpha)
    beta_done = _done_with_result(world.beta, {"resolution": "beta secret", "resolved": True})
    assert client.get(f"/portal/{world.alpha}/tasks/{beta_done}/result.json").status_code == 404
    assert client.get(f"/api/v1/tasks/{beta_done}", headers=headers).status_code == 404
    other = client.application.test_client()
    login(other, f"/portal/{world.beta}/login", world.client_beta_email)
    refused = other.get(f"/portal/{world.alpha}/tasks/{done}/result.json")
    assert refused.status_code == 302 and "/login" in refused.location
