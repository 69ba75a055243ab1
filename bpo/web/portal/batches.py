"""Portal pages for CSV batches: upload, a preview of every bad row, confirm; templates
and the task export.

An upload is kept between preview and confirm under the tenant's own directory,
named by the uploader's id and a random token, so neither another tenant nor
another user can confirm it.
"""

import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bpo.core.actors import Actor
from bpo.core.errors import NotFound, ValidationFailed
from bpo.core.uow import request_uow
from bpo.web.access import client_required
from bpo.web.filters import viewer_zone
from bpo.web.portal import portal
from bpo.work import csvio, services
from bpo.work.models import DataEntryForm

TOKEN = re.compile(r"[0-9a-f]{32}")
KEEP_UPLOADS_S = 24 * 3600  # a checked file not confirmed within a day is removed


def _upload_dir() -> Path:
    root = Path(current_app.config["BPO_INSTANCE_DIR"]) / "uploads" / f"tenant_{g.tenant.slug}"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _remove_stale(root: Path) -> None:
    cutoff = time.time() - KEEP_UPLOADS_S
    for old in root.glob("*.csv"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:  # another request removed it first
            pass


def _active_forms() -> list[DataEntryForm]:
    return list(
        request_uow().session.scalars(
            select(DataEntryForm).where(DataEntryForm.active).order_by(DataEntryForm.name)
        )
    )


def _new_page(error: ValidationFailed | None = None, status: int = 200) -> ResponseReturnValue:
    forms = _active_forms()
    examples = {
        t.name: csvio.template_csv(
            t,
            [s["name"] for s in forms[0].fields] if forms and t is csvio.DATA_ENTRY else None,
            example=True,
        )
        for t in csvio.TEMPLATES.values()
    }
    return render_template(
        "portal/batches/new.html",
        tenant=g.tenant,
        templates=csvio.TEMPLATES.values(),
        forms=forms,
        examples=examples,
        error=error,
    ), status


def _upload_path(token: str) -> Path:
    if not TOKEN.fullmatch(token):
        raise NotFound("No such upload.")
    path = _upload_dir() / f"{current_user.user.id}-{token}.csv"
    if not path.exists():
        raise NotFound("No such upload: it was imported already, or it belongs to someone else.")
    return path


def _template(name: str | None) -> csvio.Template:
    template = csvio.TEMPLATES.get(name or "")
    if template is None:
        raise ValidationFailed("choose what the rows are", fields={"template": ["choose one"]})
    return template


@portal.get("/batches/new")
@client_required
def new_batch() -> ResponseReturnValue:
    return _new_page()


@portal.post("/batches/new")
@client_required
def upload_batch() -> ResponseReturnValue:
    upload = request.files.get("file")
    try:
        template = _template(request.form.get("template"))
        if upload is None or not upload.filename:
            raise ValidationFailed("choose a CSV file", fields={"file": ["choose a file"]})
    except ValidationFailed as exc:
        return _new_page(exc, 400)
    root = _upload_dir()
    _remove_stale(root)
    token = secrets.token_hex(16)
    path = root / f"{current_user.user.id}-{token}.csv"
    with path.open("wb") as out:
        shutil.copyfileobj(upload.stream, out, 1 << 16)
    report = csvio.check_file(request_uow(), path, template)
    if not report.ok:
        path.unlink(missing_ok=True)
    return _preview(report, token, upload.filename), 200 if report.ok else 400


def _preview(report: csvio.Report, token: str, filename: str) -> str:
    return render_template(
        "portal/batches/preview.html",
        tenant=g.tenant,
        report=report,
        token=token,
        filename=filename,
    )


@portal.post("/batches/<token>/confirm")
@client_required
def confirm_batch(token: str) -> ResponseReturnValue:
    path = _upload_path(token)
    template = _template(request.form.get("template"))
    user = current_user.user
    uow = request_uow()
    # Checked again: the tenant's forms or tasks may have changed since the preview.
    report = csvio.check_file(uow, path, template)
    if not report.ok:
        path.unlink(missing_ok=True)
        return _preview(report, token, "the file"), 400
    try:
        counts = csvio.import_after_check(
            uow, path, template, Actor(f"client:{user.id}", user.name)
        )
    except IntegrityError:
        # Another submission took some of these references between the check and now.
        uow.rollback()
        report.problems.append(
            csvio.Problem(
                None,
                "external_ref",
                "some of these references were submitted meanwhile by someone else;"
                " nothing was created: upload the file again to see which",
            )
        )
        path.unlink(missing_ok=True)
        return _preview(report, token, "the file"), 409
    uow.after_commit(lambda: path.unlink(missing_ok=True))
    flash(
        f"{counts.created} task(s) created from the file"
        + (f"; {counts.existing} were there already" if counts.existing else "")
        + ".",
        "success",
    )
    return redirect(url_for("portal.list_tasks"))


@portal.get("/batches/template/<name>.csv")
@client_required
def batch_template(name: str) -> ResponseReturnValue:
    template = csvio.TEMPLATES.get(name)
    if template is None:
        raise NotFound(f"There is no template {name!r}.")
    fields: list[str] = []
    filename = f"{name}-template.csv"
    if template is csvio.DATA_ENTRY:
        forms = {form.key: form for form in _active_forms()}
        key = request.args.get("form")
        if key is not None and key not in forms:
            raise NotFound(f"There is no active form {key!r}.")
        form = forms[key] if key is not None else next(iter(forms.values()), None)
        if form is not None:
            fields = [spec["name"] for spec in form.fields]
            filename = f"{name}-{form.key}-template.csv"
    return Response(
        csvio.template_csv(template, fields),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@portal.get("/tasks/export.csv")
@client_required
def export_tasks() -> ResponseReturnValue:
    raw: dict[str, Any] = {k: v for k, v in request.args.items() if v and k != "status"}
    if statuses := [s for s in request.args.getlist("status") if s]:
        raw["status"] = statuses
    raw.pop("cursor", None)
    raw.pop("limit", None)
    filters = services.parse_filters(raw)
    return Response(
        stream_with_context(iter(csvio.Export(request_uow(), filters, zone=viewer_zone()))),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={g.tenant.slug}-tasks.csv"},
    )
