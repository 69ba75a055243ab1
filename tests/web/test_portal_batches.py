"""Portal CSV batches: upload → preview (every bad row, nothing written) → confirm;
templates; export; and no way to confirm or read another tenant's batch."""

import csv
import io
import re

from sqlalchemy import update

from bpo.core.uow import unit_of_work
from bpo.identity.models import ClientUser
from bpo.work import csvio
from bpo.work.models import DataEntryForm
from tests.support.factories import W9, ensure_form, task_count
from tests.support.helpers import csrf_token, login, unique


def _upload(client, tenant: str, text: str, template: str = "data_entry"):
    url = f"/portal/{tenant}/batches/new"
    return client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "template": template,
            "file": (io.BytesIO(text.encode()), "batch.csv"),
        },
        content_type="multipart/form-data",
    )


def test_bad_rows_are_listed_and_nothing_is_written_then_a_fixed_file_imports(alpha_client, world):
    tag = unique("batch-")
    before = task_count(world.alpha)
    bad = (
        "title,form,source_text,tin\n"
        f"{tag} a,w9,scan,123456789\n{tag} b,w9,scan,12\n{tag} c,nope,scan,\n"
    )
    preview = _upload(alpha_client, world.alpha, bad)
    assert preview.status_code == 400
    html = preview.get_data(as_text=True)
    rows = re.findall(r'<td class="num">(\d+)</td><td><code>(\w+)</code>', html)
    assert ("3", "tin") in rows and ("4", "form") in rows
    assert (
        "Nothing was created" in html
        and "confirm" not in html.lower().split("nothing was created")[1][:200]
    )
    assert task_count(world.alpha) == before

    good = bad.replace(",12\n", ",123456780\n").replace("nope", "w9")
    preview = _upload(alpha_client, world.alpha, good)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "Create 3 task(s)" in html and task_count(world.alpha) == before
    action = re.search(r'action="([^"]+/confirm)"', html).group(1)
    done = alpha_client.post(
        action,
        data={
            "csrf_token": csrf_token(alpha_client, f"/portal/{world.alpha}/batches/new"),
            "template": "data_entry",
        },
    )
    assert done.status_code == 302 and task_count(world.alpha) == before + 3
    listed = alpha_client.get(done.location).get_data(as_text=True)
    assert "3 task(s) created from the file" in listed and f"{tag} c" in listed
    again = alpha_client.post(
        action,
        data={
            "csrf_token": csrf_token(alpha_client, f"/portal/{world.alpha}/batches/new"),
            "template": "data_entry",
        },
    )
    assert again.status_code == 404  # an upload is imported once


def test_a_wrong_encoding_or_missing_file_is_explained(alpha_client, world):
    url = f"/portal/{world.alpha}/batches/new"
    latin = alpha_client.post(
        url,
        data={
            "csrf_token": csrf_token(alpha_client, url),
            "template": "data_entry",
            "file": (io.BytesIO("form,source_text\nw9,Café\n".encode("latin-1")), "x.csv"),
        },
        content_type="multipart/form-data",
    )
    assert latin.status_code == 400 and "not UTF-8" in latin.get_data(as_text=True)
    missing = alpha_client.post(
        url, data={"csrf_token": csrf_token(alpha_client, url), "template": "data_entry"}
    )
    assert missing.status_code == 400 and 'id="file-error"' in missing.get_data(as_text=True)
    no_template = alpha_client.post(url, data={"csrf_token": csrf_token(alpha_client, url)})
    assert no_template.status_code == 400 and 'id="template-error"' in no_template.get_data(
        as_text=True
    )


def test_templates_download(alpha_client, world):
    for name in ("data_entry", "invoices"):
        response = alpha_client.get(f"/portal/{world.alpha}/batches/template/{name}.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert "external_ref" in header
    assert alpha_client.get(f"/portal/{world.alpha}/batches/template/nope.csv").status_code == 404


def test_export_escapes_formulas_and_holds_only_own_tasks(alpha_client, client, world):
    ensure_form(world.beta)
    with unit_of_work(world.beta) as uow:
        from bpo.core.actors import SYSTEM
        from bpo.work.services import create_task
        from tests.support.factories import ticket_task

        marker = unique("beta-secret-")
        create_task(uow, ticket_task(title=marker), SYSTEM)
    tag = unique("=cmd|")
    assert (
        _upload(alpha_client, world.alpha, f'title,form,source_text\n"{tag}",w9,x\n').status_code
        == 200
    )
    html = _upload(alpha_client, world.alpha, f'title,form,source_text\n"{tag}",w9,x\n').get_data(
        as_text=True
    )
    action = re.search(r'action="([^"]+/confirm)"', html).group(1)
    alpha_client.post(
        action,
        data={
            "csrf_token": csrf_token(alpha_client, f"/portal/{world.alpha}/batches/new"),
            "template": "data_entry",
        },
    )
    with unit_of_work(world.alpha) as uow:  # instants in the viewer's zone, with its offset
        uow.session.execute(
            update(ClientUser)
            .where(ClientUser.email == world.client_alpha_email)
            .values(timezone="Asia/Kolkata")
        )
    response = alpha_client.get(f"/portal/{world.alpha}/tasks/export.csv?q={tag[1:]}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["title"] for r in rows] == ["'" + tag]
    assert rows[0]["created_at"].endswith("+05:30"), rows[0]
    everything = alpha_client.get(f"/portal/{world.alpha}/tasks/export.csv").get_data(as_text=True)
    assert marker not in everything
    assert (
        alpha_client.get(f"/portal/{world.alpha}/tasks/export.csv?status=bogus").status_code == 400
    )


def test_another_tenant_cannot_confirm_or_see_an_upload(app, client, world):
    ensure_form(world.alpha)
    ensure_form(world.beta)
    beta = app.test_client()
    login(beta, f"/portal/{world.beta}/login", world.client_beta_email)
    html = _upload(beta, world.beta, "form,source_text\nw9,beta scan\n").get_data(as_text=True)
    token = re.search(r"/batches/([0-9a-f]{32})/confirm", html).group(1)

    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    before = (task_count(world.alpha), task_count(world.beta))
    csrf = csrf_token(client, f"/portal/{world.alpha}/batches/new")
    response = client.post(
        f"/portal/{world.alpha}/batches/{token}/confirm",
        data={"csrf_token": csrf, "template": "data_entry"},
    )
    assert response.status_code == 404
    response = client.post(
        f"/portal/{world.beta}/batches/{token}/confirm",
        data={"csrf_token": csrf, "template": "data_entry"},
    )
    assert response.status_code in (302, 400) and "/login" in (response.location or "/login")
    assert (task_count(world.alpha), task_count(world.beta)) == before
    for bad in ("../../etc/passwd", "zz", "0" * 31):
        assert (
            client.post(
                f"/portal/{world.alpha}/batches/{bad}/confirm", data={"csrf_token": csrf}
            ).status_code
            == 404
        )


def test_templates_are_empty_files_per_form_and_linked_from_home(alpha_client, world):
    home = alpha_client.get(f"/portal/{world.alpha}/").get_data(as_text=True)
    assert f'href="/portal/{world.alpha}/batches/new"' in home
    page = alpha_client.get(f"/portal/{world.alpha}/batches/new").get_data(as_text=True)
    assert "data_entry-w9-template.csv" in page
    response = alpha_client.get(f"/portal/{world.alpha}/batches/template/data_entry.csv?form=w9")
    assert response.status_code == 200
    assert "data_entry-w9-template.csv" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert len(lines) == 1 and lines[0].split(",")[-2:] == ["tin", "amount"]
    invoices = alpha_client.get(f"/portal/{world.alpha}/batches/template/invoices.csv")
    assert invoices.get_data(as_text=True).splitlines() == [",".join(csvio.INVOICES.columns)]
    missing = alpha_client.get(f"/portal/{world.alpha}/batches/template/data_entry.csv?form=zz")
    assert missing.status_code == 404


def test_confirm_checks_again_and_shows_what_changed_since_the_preview(alpha_client, world):
    ensure_form(world.alpha, {**W9, "key": "w9_gone", "name": "Gone soon"})
    before = task_count(world.alpha)
    html = _upload(alpha_client, world.alpha, "form,source_text\nw9_gone,scan\n").get_data(
        as_text=True
    )
    action = re.search(r'action="([^"]+/confirm)"', html).group(1)
    with unit_of_work(world.alpha) as uow:
        uow.session.execute(
            update(DataEntryForm).where(DataEntryForm.key == "w9_gone").values(active=False)
        )
    response = alpha_client.post(
        action,
        data={
            "csrf_token": csrf_token(alpha_client, f"/portal/{world.alpha}/batches/new"),
            "template": "data_entry",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was created" in page and "<code>form</code>" in page
    assert task_count(world.alpha) == before
