"""Declarative bases for the shared schema ``bpo`` and for tenant schemas.

Both metadata objects carry a naming convention so that migrations name
constraints the same way on every tenant. Tenant tables use the placeholder
schema ``tenant``, which is translated per unit of work and never exists itself.
"""

import enum
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Enum, Identity, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import BLANK_SCHEMA

SHARED_SCHEMA = "bpo"
TENANT_PLACEHOLDER = "tenant"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant as an aware UTC datetime."""
    return datetime.now(UTC)


# Functions every tenant schema has: CREATE statements in which ``{schema}`` stands for
# the quoted schema name. Models' modules add theirs; provisioning creates them after
# the tables, and the tenant revision that adds or changes one carries its own copy.
TENANT_FUNCTIONS: list[str] = []


class SharedModel(DeclarativeBase):
    """Base of provider-level tables in schema ``bpo``."""

    metadata = MetaData(schema=SHARED_SCHEMA, naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class TenantModel(DeclarativeBase):
    """Base of per-tenant tables; bound to ``tenant_<slug>`` per unit of work."""

    metadata = MetaData(schema=TENANT_PLACEHOLDER, naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def bigint_pk() -> Mapped[int]:
    """A ``bigint`` identity primary key (Citus-friendly, never reused)."""
    return mapped_column(BigInteger, Identity(always=False), primary_key=True)


def portable_enum(cls: type[enum.Enum], name: str) -> Enum:
    """An enum column as VARCHAR plus a named CHECK: identical in every schema, no
    PostgreSQL type to create per tenant or to alter when a value is added."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


def unscoped_tenant_metadata() -> MetaData:
    """A copy of the tenant metadata with no schema, for Alembic's tenant tree.

    Alembic does not honour ``schema_translate_map`` (alembic #1503), so the tenant
    tree runs with ``SET LOCAL search_path`` and compares against unqualified tables.
    """
    copy = MetaData(naming_convention=NAMING_CONVENTION)

    def unqualify(table: object, to_schema: object, constraint: object, referred: object) -> object:
        # Foreign keys between tenant tables follow them out of the placeholder schema.
        return BLANK_SCHEMA if referred == TENANT_PLACEHOLDER else referred

    for table in TenantModel.metadata.sorted_tables:
        table.to_metadata(copy, schema=None, referred_schema_fn=unqualify)  # type: ignore[arg-type]
    return copy
