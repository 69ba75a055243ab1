"""The plain-input shortcut of task intake gives exactly what the schema gives."""

import pytest

from bpo.work.services import CREATE_ARGS, _plain_args
from tests.support.factories import invoice_task, ticket_task

PLAIN = [
    invoice_task(),
    ticket_task(title="Printer on fire", priority="urgent", external_ref="T-1"),
    {"type": "support.ticket", "payload": {}},
    {"type": "support.ticket", "payload": {"a": 1}, "title": " x ", "priority": "low"},
    {"type": "support.ticket", "payload": {}, "external_ref": "~!x" * 40},
    {"type": "support.ticket", "payload": {}, "external_ref": "ok\n"},  # as the schema's $ does
]
NOT_PLAIN = [
    {"type": "nope", "payload": {}},
    {"type": "support.ticket"},
    {"type": "support.ticket", "payload": []},
    {"type": "support.ticket", "payload": {}, "priority": "NORMAL"},
    {"type": "support.ticket", "payload": {}, "priority": None},
    {"type": "support.ticket", "payload": {}, "title": ""},
    {"type": "support.ticket", "payload": {}, "title": "   "},
    {"type": "support.ticket", "payload": {}, "title": "x" * 301},
    {"type": "support.ticket", "payload": {}, "title": None},
    {"type": "support.ticket", "payload": {}, "external_ref": "has space"},
    {"type": "support.ticket", "payload": {}, "external_ref": "x" * 121},
    {"type": "support.ticket", "payload": {}, "external_ref": 12},
    {"type": "support.ticket", "payload": {}, "defer_until": "2030-01-01T00:00:00Z"},
    {"type": "support.ticket", "payload": {}, "colour": "red"},
    {"type": b"support.ticket", "payload": {}},
]


@pytest.mark.parametrize("data", PLAIN)
def test_plain_input_loads_as_the_schema_loads_it(data):
    assert _plain_args(data) == CREATE_ARGS.load(data)


@pytest.mark.parametrize("data", NOT_PLAIN)
def test_anything_else_is_left_to_the_schema(data):
    assert _plain_args(data) is None


def test_the_shortcut_knows_every_field_of_the_schema():
    # A field or rule added to TaskCreateArgs must be added to _plain_args too.
    assert {name: type(f).__name__ for name, f in CREATE_ARGS.fields.items()} == {
        "type": "String",
        "title": "String",
        "priority": "String",
        "external_ref": "String",
        "payload": "Dict",
        "defer_until": "AwareDateTime",  # never plain: always through the schema
    }
    assert [len(f.validators) for f in CREATE_ARGS.fields.values()] == [1, 1, 1, 1, 0, 1]
