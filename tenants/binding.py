"""Binding work to one tenant's schema.

A :class:`~sqlalchemy.orm.Session` made here is bound to an engine whose execution
options translate the placeholder schema ``tenant`` into ``tenant_<slug>``. The
options live on the bind, not on a connection, so they survive ``commit()``
(SQLAlchemy #10322). One session serves one tenant for its whole life: its
identity map is keyed by primary key only (SQLAlchemy #7832).
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Connection, Engine, FromClause, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenants.db import TENANT_PLACEHOLDER
from tenants.naming import schema_name


def translate_map(slug: str | None) -> dict[str, str | None]:
    """The ``schema_translate_map`` for ``slug``; for no tenant, none at all.

    Without a tenant the placeholder stays ``tenant``, a schema that never exists,
    so tenant tables cannot be reached by accident.
    """
    if slug is None:
        return {}
    return {TENANT_PLACEHOLDER: schema_name(slug)}


def bind_for(engine: Engine, slug: str | None) -> Engine:
    """``engine`` with the tenant's translate map as an execution option."""
    if slug is None:
        return engine
    return engine.execution_options(schema_translate_map=translate_map(slug))


def make_session(engine: Engine, slug: str | None) -> Session:
    """A new session bound to tenant ``slug`` (or to the shared schema only)."""
    return Session(bind=bind_for(engine, slug), expire_on_commit=False, autoflush=True)


def quoted_schema(connection: Connection, slug: str) -> str:
    """The tenant's schema name quoted as an identifier for this connection's dialect."""
    return connection.dialect.identifier_preparer.quote_identifier(schema_name(slug))


def set_local_search_path(connection: Connection, slug: str) -> None:
    """``SET LOCAL search_path`` to the tenant's schema for raw SQL.

    Only valid inside a transaction, and gone when it ends: the setting can never
    leak to the next user of a pooled connection.
    """
    connection.exec_driver_sql(f"SET LOCAL search_path TO {quoted_schema(connection, slug)}")


@contextmanager
def raw_tenant_sql(engine: Engine, slug: str) -> Iterator[Connection]:
    """A connection in a transaction whose search path is the tenant's schema."""
    with engine.begin() as connection:
        set_local_search_path(connection, slug)
        yield connection


def real_schema(clause: FromClause, slug: str | None) -> str:
    """The schema ``table`` lives in for tenant ``slug`` (its placeholder translated)."""
    table = cast(Table, clause)
    if table.schema == TENANT_PLACEHOLDER:
        if slug is None:
            raise ValueError(f"{table.name} is a tenant table: name the tenant")
        return schema_name(slug)
    return table.schema or "public"


def copy_rows(
    session: Session,
    table: FromClause,
    slug: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Write ``rows`` into ``table`` with PostgreSQL's COPY, in the session's transaction.

    The fastest way to store many rows; constraints hold as for INSERT, and a
    violation surfaces as SQLAlchemy's IntegrityError like any other statement's.
    """
    from psycopg import errors as pg_errors
    from psycopg import sql

    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(real_schema(table, slug)),
        sql.Identifier(cast(Table, table).name),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )
    driver = session.connection().connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except pg_errors.IntegrityError as exc:
        raise IntegrityError(str(statement), None, exc) from exc


def next_ids(session: Session, table: FromClause, slug: str | None, count: int) -> list[int]:
    """``count`` fresh values of ``table``'s ``id`` identity, in one round trip."""
    from sqlalchemy import text

    qualified = f'"{real_schema(table, slug)}"."{cast(Table, table).name}"'
    result = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": qualified, "n": count},
    )
    return [int(v) for v in result.scalars()]
