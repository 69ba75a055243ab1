"""Posted portal forms become task inputs; errors find their inputs again."""

from zoneinfo import ZoneInfo

from bpo.core.errors import flatten_fields
from bpo.web.portal.taskforms import flat_values, unflatten

NY = ZoneInfo("America/New_York")


def test_paths_become_nested_input_with_lines_in_order():
    posted = [
        ("csrf_token", "x"),
        ("title", " Paper "),
        ("payload.vendor", "Paper & Co"),
        ("payload.lines.1.quantity", "2"),
        ("payload.lines.0.quantity", "3"),
        ("payload.lines.0.description", "A4"),
        ("payload.lines.2.description", "  "),  # an empty row is dropped
        ("payload.totals.total", "9.99"),
    ]
    assert unflatten(posted, NY) == {
        "title": "Paper",
        "payload": {
            "vendor": "Paper & Co",
            "lines": [{"quantity": "3", "description": "A4"}, {"quantity": "2"}],
            "totals": {"total": "9.99"},
        },
    }


def test_defer_until_is_read_in_the_viewers_zone():
    data = unflatten([("defer_until", "2026-07-01T09:30")], NY)
    assert data["defer_until"] == "2026-07-01T09:30:00-04:00"
    assert unflatten([("defer_until", "soon")], NY)["defer_until"] == "soon"  # schema says why


def test_clashing_names_do_not_break_the_form():
    data = unflatten(
        [("payload.a", "1"), ("payload.a.b", "2"), ("payload.c.d", "3"), ("payload.c", "4")], NY
    )
    assert data == {"payload": {"a": "1", "c": {"d": "3"}}}


def test_errors_and_values_flatten_to_the_same_paths():
    errors = {
        "payload": {"lines": {0: {"quantity": ["Not a valid number."]}}, "totals": {"total": ["x"]}}
    }
    assert flatten_fields(errors) == {
        "payload.lines.0.quantity": ["Not a valid number."],
        "payload.totals.total": ["x"],
    }
    values = flat_values({"payload": {"lines": [{"quantity": "3"}], "vendor": None}})
    assert values == {"payload.lines.0.quantity": "3", "payload.vendor": ""}


def test_data_entry_inputs_say_what_they_accept():
    from bpo.web.portal.taskforms import _field_hint

    hint = _field_hint(
        {"name": "tin", "type": "text", "required": True, "pattern": r"\d{9}", "critical": True}
    )
    assert hint == r"required when keyed · format \d{9} · critical: checked twice"
    assert _field_hint({"name": "n", "type": "number", "min": "1", "max": "60"}) == "1 to 60"
    assert _field_hint({"name": "a", "type": "money", "min": "0"}) == (
        "at least 0 · two decimals at most"
    )
