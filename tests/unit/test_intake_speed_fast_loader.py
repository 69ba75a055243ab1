"""The fast payload loader gives exactly what the schema gives, or nothing (pure: no database).

``bpo.core.fields.fast_loader`` stands in for ``schema.load`` on intake. On input the
schema accepts it must return the same result; on anything else it must return None,
so that the schema itself loads the input and names its errors as before.
"""

import copy
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, pre_load, validates

from bpo.core.fields import _schema_step, fast_loader
from bpo.demo_work import BOOKS, demo_tasks
from bpo.work.services import FAST_PAYLOADS
from bpo.work.types import TYPES
from tests.support.factories import (
    ALL_TYPES,
    invoice_task,
    journal_task,
    reconciliation_task,
    record_task,
    ticket_task,
)


def _valid_tasks() -> list[dict[str, Any]]:
    tasks = [factory() for factory in ALL_TYPES]
    tasks += json.loads(json.dumps(demo_tasks("t", BOOKS["acme"], date(2026, 11, 20))))
    tasks += [
        invoice_task(payload={"purchase_order": "PO-7"}),
        invoice_task(
            payload={
                "lines": [{"description": "Pens", "quantity": 2, "unit_price": 3}],  # integers
                "totals": {"subtotal": "6.00", "tax": "0", "total": "6"},
            }
        ),
        record_task(payload={"source": {"attachment_id": 12}, "values": {"tin": "123456789"}}),
        journal_task(
            payload={"lines": [{"account": "1", "debit": "1"}, {"account": "2", "credit": 1}]}
        ),
        reconciliation_task(
            payload={
                "lines": [
                    {"date": "2026-10-31", "description": "x", "amount": "250.50", "reference": "R"}
                ]
            }
        ),
        ticket_task(payload={"channel": "phone", "requester": {"name": "A", "email": "a@b.co"}}),
    ]
    return tasks


VALID = _valid_tasks()


@pytest.mark.parametrize("task", VALID, ids=lambda t: t["type"])
def test_valid_payloads_load_as_the_schema_loads_them(task):
    schema = TYPES[task["type"]].schema
    expected = schema.load(copy.deepcopy(task["payload"]))
    loaded = FAST_PAYLOADS[task["type"]](task["payload"])
    assert loaded is not None, "valid input must take the fast path"
    assert loaded == expected
    assert json.dumps(schema.dump(loaded), sort_keys=True) == json.dumps(
        schema.dump(expected), sort_keys=True
    )


def test_every_type_is_loaded_fast():
    # A payload schema given a feature the fast loader does not mirror would
    # silently lose the shortcut (still correct, but slow): this says so.
    assert all(_schema_step(t.schema) is not None for t in TYPES.values())


def test_money_stays_decimal():
    loaded = FAST_PAYLOADS["accounting.invoice"](invoice_task()["payload"])
    assert loaded is not None
    assert type(loaded["totals"]["total"]) is Decimal
    assert type(loaded["lines"][0]["unit_price"]) is Decimal
    assert loaded["lines"][0]["tax_rate"] == Decimal("10")


BAD_PAYLOADS = [
    ("accounting.invoice", {**invoice_task()["payload"], "colour": "red"}),  # unknown key
    ("accounting.invoice", {k: v for k, v in invoice_task()["payload"].items() if k != "vendor"}),
    ("accounting.invoice", {**invoice_task()["payload"], "vendor": ""}),
    ("accounting.invoice", {**invoice_task()["payload"], "vendor": None}),
    ("accounting.invoice", {**invoice_task()["payload"], "currency": "usd"}),
    ("accounting.invoice", {**invoice_task()["payload"], "due_date": "2026-01-01"}),
    ("accounting.invoice", {**invoice_task()["payload"], "invoice_date": "2026-13-01"}),
    ("accounting.invoice", {**invoice_task()["payload"], "lines": []}),
    ("accounting.invoice", {**invoice_task()["payload"], "lines": ({},)}),
    ("accounting.invoice", {**invoice_task()["payload"], "lines": [None]}),
    ("accounting.invoice", {**invoice_task()["payload"], "totals": {"subtotal": "1"}}),
    ("accounting.invoice", {**invoice_task()["payload"], "totals": None}),
    ("accounting.invoice", {**invoice_task()["payload"], "totals": []}),
    (
        "accounting.invoice",
        invoice_task(payload={"totals": {"subtotal": "14.97", "tax": "1.50", "total": "16.48"}})[
            "payload"
        ],
    ),
    (
        "accounting.invoice",
        invoice_task(
            payload={
                "lines": [{"description": "x", "quantity": "1", "unit_price": 4.99}],
                "totals": {"subtotal": "4.99", "tax": "0", "total": "4.99"},
            }
        )["payload"],
    ),  # a float amount
    (
        "accounting.invoice",
        invoice_task(
            payload={
                "lines": [{"description": "x", "quantity": "1", "unit_price": "4.999"}],
                "totals": {"subtotal": "5.00", "tax": "0", "total": "5.00"},
            }
        )["payload"],
    ),
    (
        "accounting.invoice",
        invoice_task(
            payload={
                "lines": [{"description": "x", "quantity": "1", "unit_price": "NaN"}],
                "totals": {"subtotal": "0", "tax": "0", "total": "0"},
            }
        )["payload"],
    ),
    (
        "accounting.journal_entry",
        journal_task(payload={"lines": [{"account": "1", "debit": "5"}]})["payload"],
    ),
    (
        "accounting.journal_entry",
        journal_task(
            payload={"lines": [{"account": "1", "debit": "5"}, {"account": "2", "credit": "4"}]}
        )["payload"],
    ),
    (
        "accounting.journal_entry",
        journal_task(
            payload={"lines": [{"account": "1", "debit": "5", "credit": "5"}, {"account": "2"}]}
        )["payload"],
    ),
    (
        "accounting.bank_reconciliation",
        reconciliation_task(payload={"closing_balance": "1"})["payload"],
    ),
    (
        "accounting.bank_reconciliation",
        reconciliation_task(payload={"period_end": "2026-09-01"})["payload"],
    ),
    ("data_entry.record", record_task(payload={"source": {}})["payload"]),
    (
        "data_entry.record",
        record_task(payload={"source": {"text": "x", "attachment_id": 1}})["payload"],
    ),
    ("data_entry.record", record_task(payload={"source": {"attachment_id": 0}})["payload"]),
    ("data_entry.record", record_task(payload={"source": {"attachment_id": True}})["payload"]),
    ("data_entry.record", record_task(payload={"form": "Bad Key"})["payload"]),
    ("data_entry.record", record_task(payload={"values": []})["payload"]),
    ("data_entry.record", record_task(payload={"values": {1: "x"}})["payload"]),
    (
        "support.ticket",
        ticket_task(payload={"requester": {"name": "A", "email": "not-an-email"}})["payload"],
    ),
    ("support.ticket", ticket_task(payload={"channel": "fax"})["payload"]),
    ("support.ticket", ticket_task(payload={"message": "x" * 20_001})["payload"]),
    ("support.ticket", ticket_task(payload={"subject": 5})["payload"]),
    ("support.ticket", "not an object"),
    ("support.ticket", None),
    ("support.ticket", []),
]


@pytest.mark.parametrize(("type_name", "payload"), BAD_PAYLOADS)
def test_bad_payloads_are_left_to_the_schema(type_name, payload):
    with pytest.raises(ValidationError):
        TYPES[type_name].schema.load(copy.deepcopy(payload))
    assert FAST_PAYLOADS[type_name](payload) is None


# -- any input: never a different answer from the schema ------------------------------

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "0.0001",
            "1.005",
            "1e20",
            "1E3",
            "NaN",
            "Infinity",
            "2026-02-30",
            "2026-10-15",
            "2026-10-15T00:00:00",
            "USD",
            "usd",
            "a@b.co",
            "email",
            "receipt",
            "x" * 301,
        ]
    ),
)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A valid payload with one part replaced, removed or added to."""
    task = copy.deepcopy(draw(st.sampled_from(VALID)))
    payload = task["payload"]
    path = draw(st.sampled_from(_paths(payload)))
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if not path:
        return task["type"], draw(JSON) if action == "replace" else payload
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if action == "replace":
        parent[path[-1]] = draw(JSON)
    elif action == "remove":
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][draw(st.text(max_size=8))] = draw(JSON)
    elif isinstance(parent[path[-1]], list):
        parent[path[-1]].append(draw(JSON))
    return task["type"], payload


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_fast_loader_never_disagrees_with_the_schema(case):
    type_name, payload = case
    schema = TYPES[type_name].schema
    fast = FAST_PAYLOADS[type_name](copy.deepcopy(payload))
    try:
        expected = schema.load(copy.deepcopy(payload))
    except ValidationError:
        assert fast is None  # bad input: the schema names the errors
        return
    except Exception:  # whatever the schema does, the fast path must have stood aside
        assert fast is None
        return
    assert fast is None or fast == expected


# -- schemas whose features the loader does not mirror -------------------------------


class Inner(Schema):
    name = fields.String(required=True)

    @validates("name")
    def _not_x(self, value: str, **kwargs: Any) -> None:
        if value == "x":
            raise ValidationError("not x")


class Outer(Schema):
    inner = fields.Nested(Inner, required=True)
    many = fields.List(fields.Nested(Inner), load_default=list)


class Preloaded(Schema):
    name = fields.String(required=True)

    @pre_load
    def _lower(self, data: Any, **kwargs: Any) -> Any:
        return {k.lower(): v for k, v in data.items()}


def test_a_schema_with_hooks_it_does_not_mirror_always_goes_through_marshmallow():
    assert fast_loader(Preloaded())({"name": "a"}) is None
    assert fast_loader(Inner())({"name": "a"}) is None


def test_a_nested_schema_it_does_not_mirror_is_loaded_by_marshmallow():
    load = fast_loader(Outer())
    assert load({"inner": {"name": "a"}}) == Outer().load({"inner": {"name": "a"}})
    assert load({"inner": {"name": "a"}, "many": [{"name": "b"}]}) == {
        "inner": {"name": "a"},
        "many": [{"name": "b"}],
    }
    assert load({"inner": {"name": "x"}}) is None  # the nested @validates still runs
    assert load({"inner": {"name": "a"}, "many": [{"name": "x"}]}) is None
