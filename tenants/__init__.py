"""Tenancy: the only package that knows tenants live in PostgreSQL schemas.

Tenant models declare the placeholder schema ``tenant``; a unit of work for tenant
``acme`` binds it to ``tenant_acme`` with ``schema_translate_map``. SQL that is not
bound fails because no schema called ``tenant`` ever exists.
"""

from tenants.naming import InvalidSlug, schema_name, validate_slug

__all__ = ["InvalidSlug", "schema_name", "validate_slug"]
