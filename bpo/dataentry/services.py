"""Data-entry forms of a tenant: defined once, keyed by many tasks."""

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select

from bpo.core.errors import Conflict, ValidationFailed
from bpo.core.uow import UnitOfWork
from bpo.dataentry.schemas import FormDefinition
from bpo.work.models import DataEntryForm

DEFINITION = FormDefinition()


def create_form(uow: UnitOfWork, definition: dict[str, Any]) -> DataEntryForm:
    """Validate ``definition`` and add the form to the unit's tenant."""
    try:
        loaded = DEFINITION.load(definition)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed("the form has errors", fields=messages) from None
    if form_by_key(uow, loaded["key"]) is not None:
        raise Conflict(f"form {loaded['key']} exists", fields={"key": ["already in use"]})
    form = DataEntryForm(key=loaded["key"], name=loaded["name"], fields=loaded["fields"])
    uow.session.add(form)
    uow.session.flush()
    return form


def form_by_key(uow: UnitOfWork, key: str) -> DataEntryForm | None:
    return uow.session.scalar(select(DataEntryForm).where(DataEntryForm.key == key))
