"""Creating, suspending, resuming and dropping tenants.

Provisioning is one transaction (PostgreSQL DDL is transactional): register the
tenant, create ``tenant_<slug>`` with every tenant table straight from metadata,
and stamp the tenant tree's head. It either happens whole or not at all, and
running it again for an existing tenant changes nothing.
"""

import functools
from dataclasses import dataclass

from sqlalchemy import Connection, Dialect, Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable

from tenants.binding import quoted_schema
from tenants.db import TENANT_FUNCTIONS, TENANT_PLACEHOLDER, TenantModel, utcnow
from tenants.migrations import head_revision
from tenants.models import Tenant, TenantStatus
from tenants.naming import schema_name, validate_slug


class TenantError(RuntimeError):
    """A tenant operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class Provisioned:
    tenant_id: int
    slug: str
    created: bool


def schema_exists(connection: Connection, slug: str) -> bool:
    found = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": schema_name(slug)}
    )
    return found.first() is not None


# SQLAlchemy renders a translated schema as this token until execution time.
_SCHEMA_TOKEN = f"__[SCHEMA_{TENANT_PLACEHOLDER}]"


@functools.cache
def tenant_head() -> str:
    """The tenant tree's head, read once: it must match the models this process loaded."""
    return head_revision("tenant")


@functools.cache
def _tenant_ddl(dialect: Dialect) -> tuple[str, ...]:
    """Every tenant table, index and function as DDL text with a schema token, compiled
    once.

    Compiling ``create_all`` per tenant was a third of provisioning time
    (bench/provision.py); the statements are the same for every tenant.
    """
    translate = {TENANT_PLACEHOLDER: TENANT_PLACEHOLDER}
    statements: list[str] = []
    for table in TenantModel.metadata.sorted_tables:
        statements.append(
            str(CreateTable(table).compile(dialect=dialect, schema_translate_map=translate))
        )
        statements += [
            str(CreateIndex(index).compile(dialect=dialect, schema_translate_map=translate))
            for index in table.indexes
        ]
    statements += [function.replace("{schema}", _SCHEMA_TOKEN) for function in TENANT_FUNCTIONS]
    return tuple(statements)


def create_tenant_tables(connection: Connection, slug: str) -> None:
    """Create the tenant's schema and every tenant table in it (no existence checks)."""
    schema = quoted_schema(connection, slug)
    connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    for statement in _tenant_ddl(connection.dialect):
        connection.exec_driver_sql(statement.replace(_SCHEMA_TOKEN, schema))


def _stamp_head(connection: Connection, slug: str, head: str) -> None:
    """Record ``head`` in the tenant's own ``alembic_version``, as Alembic would."""
    schema = quoted_schema(connection, slug)
    connection.exec_driver_sql(
        f"CREATE TABLE {schema}.alembic_version (version_num VARCHAR(32) NOT NULL,"
        " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    # ``schema`` is quoted by the dialect from a validated slug; the value is bound.
    insert_head = text(f"INSERT INTO {schema}.alembic_version (version_num) VALUES (:v)")  # noqa: S608
    connection.execute(insert_head, {"v": head})


def provision(
    engine: Engine, slug: str, name: str | None = None, *, timezone: str = "UTC"
) -> Provisioned:
    """Create tenant ``slug`` unless it exists; raises InvalidSlug or TenantError."""
    slug = validate_slug(slug)
    head = tenant_head()
    with engine.begin() as connection:
        # Two provisioners of the same slug queue here instead of racing on DDL.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"provision:{slug}"}
        )
        existing = connection.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar()
        has_schema = schema_exists(connection, slug)
        if existing is not None and has_schema:
            return Provisioned(existing, slug, created=False)
        if has_schema:
            raise TenantError(f"schema {schema_name(slug)} exists but is not a registered tenant")
        if existing is not None:
            raise TenantError(f"tenant {slug} is registered but its schema is missing")
        tenant_id = connection.execute(
            insert(Tenant)
            .values(
                slug=slug,
                name=name or slug.replace("_", " ").title(),
                status=TenantStatus.ACTIVE,
                timezone=timezone,
                schema_revision=head,
                migrated_at=utcnow(),
                created_at=utcnow(),
            )
            .returning(Tenant.id)
        ).scalar_one()
        create_tenant_tables(connection, slug)
        _stamp_head(connection, slug, head)
    return Provisioned(tenant_id, slug, created=True)


def set_status(engine: Engine, slug: str, status: TenantStatus) -> None:
    """Suspend or resume a tenant; raises TenantError if there is no such tenant."""
    with engine.begin() as connection:
        result = connection.execute(
            update(Tenant).where(Tenant.slug == validate_slug(slug)).values(status=status)
        )
        if result.rowcount == 0:
            raise TenantError(f"no tenant {slug!r}")


def drop(engine: Engine, slug: str) -> None:
    """Drop the tenant's schema and registry row (cascading to tokens and memberships)."""
    slug = validate_slug(slug)
    with engine.begin() as connection:
        deleted = connection.execute(delete(Tenant).where(Tenant.slug == slug))
        if deleted.rowcount == 0 and not schema_exists(connection, slug):
            raise TenantError(f"no tenant {slug!r}")
        connection.exec_driver_sql(
            f"DROP SCHEMA IF EXISTS {quoted_schema(connection, slug)} CASCADE"
        )


def ensure_shared_schema(engine: Engine) -> None:
    """Create schema ``bpo`` so the shared tree can put its version table there."""
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS bpo")
    except IntegrityError:
        # Two processes raced on CREATE SCHEMA IF NOT EXISTS; the schema exists.
        pass
