import pytest

from tenants.naming import InvalidSlug, schema_name, slugify, validate_slug


@pytest.mark.parametrize("slug", ["acme", "abc", "a_b_c", "client42", "x" * 40])
def test_valid_slugs(slug):
    assert validate_slug(slug) == slug
    assert schema_name(slug) == f"tenant_{slug}"


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("Robert'); DROP", "lower-case letters"),
        ("robert'); drop table x; --", "lower-case letters"),
        ('acme"; drop schema bpo cascade; --', "lower-case letters"),
        ("pg_x", "reserved"),
        ("pg_catalog", "reserved"),
        ("public", "reserved"),
        ("bpo", "reserved"),
        ("tenant", "reserved"),
        ("x" * 41, "at most 40"),
        ("Acme", "lower-case letters"),
        ("ACME", "lower-case letters"),
        ("1acme", "starting with a letter"),
        ("_acme", "starting with a letter"),
        ("ac", "at least 3"),
        ("acme-corp", "lower-case letters"),
        ("acmé", "lower-case letters"),
        ("", "required"),
        (None, "required"),
        (42, "required"),
    ],
)
def test_invalid_slugs_are_refused_with_a_reason(slug, reason):
    with pytest.raises(InvalidSlug) as raised:
        validate_slug(slug)
    assert reason in str(raised.value)
    with pytest.raises(InvalidSlug):
        schema_name(slug)


def test_slugify_proposes_valid_slugs():
    assert slugify("Acme Retail, Inc.") == "acme_retail_inc"
    assert slugify("42 Logistics") == "t_42_logistics"
