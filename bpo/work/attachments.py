"""Attachments: stored under the tenant's own directory, checked, checksummed.

Files live at ``<instance>/attachments/tenant_<slug>/<sha[:2]>/<sha256>``; the row
in the tenant's schema is the only way to reach one, so another tenant's id is
simply not found. Type is decided by extension *and* content (magic bytes for the
binary formats), size is capped while streaming, and nothing is kept on error.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app

from bpo.core.actors import Actor
from bpo.core.errors import NotFound, ValidationFailed
from bpo.core.uow import UnitOfWork
from bpo.work.models import Attachment
from tenants.naming import schema_name


@dataclass(frozen=True)
class FileKind:
    content_type: str
    magic: tuple[bytes, ...] = ()  # accepted leading bytes; empty = text, checked as UTF-8


KINDS: dict[str, FileKind] = {
    ".pdf": FileKind("application/pdf", (b"%PDF-",)),
    ".png": FileKind("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": FileKind("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": FileKind("image/jpeg", (b"\xff\xd8\xff",)),
    ".tif": FileKind("image/tiff", (b"II*\x00", b"MM\x00*")),
    ".tiff": FileKind("image/tiff", (b"II*\x00", b"MM\x00*")),
    ".xlsx": FileKind(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)
    ),
    ".docx": FileKind(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)
    ),
    ".csv": FileKind("text/csv"),
    ".txt": FileKind("text/plain"),
}
CHUNK = 1 << 16


def max_bytes() -> int:
    return int(current_app.config.get("BPO_MAX_ATTACHMENT_BYTES", 20 * 1024 * 1024))


def tenant_dir(slug: str) -> Path:
    return Path(current_app.config["BPO_INSTANCE_DIR"]) / "attachments" / schema_name(slug)


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"file": [message]})


def _kind_of(filename: str) -> FileKind:
    extension = os.path.splitext(filename)[1].lower()
    kind = KINDS.get(extension)
    if kind is None:
        allowed = ", ".join(sorted(KINDS))
        raise _refuse(
            f"files of type {extension or '(none)'} are not accepted; use one of {allowed}"
        )
    return kind


def _clean_name(filename: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    if not name or name.startswith("."):
        raise _refuse("the file needs a name")
    return name[:255]


def store(
    uow: UnitOfWork, stream: IO[bytes], filename: str, actor: Actor, *, task_id: int | None = None
) -> Attachment:
    """Check and store one upload for the unit's tenant; returns its (flushed) row."""
    assert uow.tenant is not None, "attachments belong to a tenant"
    name = _clean_name(filename)
    kind = _kind_of(name)
    directory = tenant_dir(uow.tenant)
    directory.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    # Closed by the ``with`` below; kept past it (delete=False) to be moved into place.
    temp = tempfile.NamedTemporaryFile(dir=directory, delete=False)  # noqa: SIM115
    try:
        with temp:
            head = b""
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes():
                    raise _refuse(f"the file is larger than {max_bytes() // (1024 * 1024)} MB")
                if len(head) < 16:
                    head = (head + chunk)[:16]
                digest.update(chunk)
                temp.write(chunk)
        if size == 0:
            raise _refuse("the file is empty")
        _check_content(kind, head, Path(temp.name))
        sha = digest.hexdigest()
        final = directory / sha[:2] / sha
        final.parent.mkdir(exist_ok=True)
        os.replace(temp.name, final)  # same content, same name: storing twice is harmless
    except BaseException:
        Path(temp.name).unlink(missing_ok=True)
        raise
    attachment = Attachment(
        task_id=task_id,
        filename=name,
        content_type=kind.content_type,
        size=size,
        sha256=sha,
        uploaded_by=actor.ref,
    )
    uow.session.add(attachment)
    uow.session.flush()
    return attachment


def _check_content(kind: FileKind, head: bytes, path: Path) -> None:
    if kind.magic:
        if not head.startswith(kind.magic):
            raise _refuse(f"the content is not a {kind.content_type} file")
        return
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                chunk.decode(
                    "utf-8"
                )  # a split multi-byte character is a rare false alarm at 64 KiB
    except UnicodeDecodeError:
        raise _refuse("text files must be UTF-8") from None


def get(uow: UnitOfWork, attachment_id: int) -> Attachment:
    attachment = uow.session.get(Attachment, attachment_id) if 0 < attachment_id < 2**63 else None
    if attachment is None:
        raise NotFound(f"no attachment {attachment_id}")
    return attachment


def path_of(uow: UnitOfWork, attachment: Attachment) -> Path:
    """Where the file is; only ever called with a row read through the tenant's session."""
    assert uow.tenant is not None
    return tenant_dir(uow.tenant) / attachment.sha256[:2] / attachment.sha256


def of_task(uow: UnitOfWork, task_id: int, attachment_id: int) -> Attachment:
    """An attachment of a task of the unit's tenant; NotFound for anything else."""
    from bpo.work.services import get_task  # services imports this module

    task = get_task(uow, task_id)
    attachment = get(uow, attachment_id)
    if attachment.task_id != task.id:
        raise NotFound(f"no attachment {attachment_id} on task {task_id}")
    return attachment
