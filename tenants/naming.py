"""Tenant slugs and the schema names generated from them.

This module is the one place that decides what a slug may be. Schema names are
always generated from a validated slug and always quoted as identifiers where
they reach SQL; they are never formatted into SQL text.
"""

import re

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
SCHEMA_PREFIX = "tenant_"
# Prefixes and names PostgreSQL or this platform reserve for themselves.
RESERVED_PREFIXES = ("pg_",)
RESERVED_SLUGS = frozenset(
    {"public", "bpo", "tenant", "information_schema", "admin", "api", "static", "portal"}
)


class InvalidSlug(ValueError):
    """A tenant slug that may not be used; the message says why."""

    def __init__(self, slug: object, reason: str) -> None:
        super().__init__(f"invalid tenant slug {slug!r}: {reason}")
        self.slug = slug
        self.reason = reason


def validate_slug(slug: object) -> str:
    """Return ``slug`` if it may name a tenant, else raise :class:`InvalidSlug`."""
    if not isinstance(slug, str) or not slug:
        raise InvalidSlug(slug, "a slug is required")
    if len(slug) > 40:
        raise InvalidSlug(slug, "at most 40 characters")
    if len(slug) < 3:
        raise InvalidSlug(slug, "at least 3 characters")
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug(
            slug,
            "use lower-case letters, digits and underscores, starting with a letter",
        )
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise InvalidSlug(slug, "this name is reserved")
    return slug


def schema_name(slug: str) -> str:
    """The schema that holds tenant ``slug``'s data (the slug is validated)."""
    return SCHEMA_PREFIX + validate_slug(slug)


def slugify(name: str) -> str:
    """A slug proposal derived from a display name (validated before it is returned)."""
    candidate = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]
    if candidate and not candidate[0].isalpha():
        candidate = ("t_" + candidate)[:40]
    return validate_slug(candidate)
