"""Sending stored files to the browser or an API client (pages and API alike)."""

from flask import Response, send_file

from bpo.core.uow import UnitOfWork
from bpo.work import attachments


def send_task_file(uow: UnitOfWork, task_id: int, attachment_id: int) -> Response:
    """A task's attachment as a download, never rendered inline; 404 across tenants."""
    attachment = attachments.of_task(uow, task_id, attachment_id)
    return send_file(
        attachments.path_of(uow, attachment),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
    )
