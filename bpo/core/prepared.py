"""Hot statements straight through psycopg, in a session's transaction.

A routing step sends three statements (queue the tasks, choose the agent and claim
the task, commit); SQLAlchemy's statement handling (compiling, binding, wrapping
each result row) cost about a third of such a step's time in Python. The few
statements on that path go to psycopg itself instead: written in its ``%(name)s``
style, prepared on the server once per connection (``prepare=True``), rows as named
tuples. They run in the session's own transaction, on its connection, so they
commit or roll back with the unit of work. Everything else speaks SQLAlchemy.
"""

from collections.abc import Mapping
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy.orm import Session


def rows(session: Session, statement: str, params: Mapping[str, Any]) -> list[Any]:
    """Every row of ``statement`` (named tuples), run in ``session``'s transaction."""
    driver = session.connection().connection.driver_connection
    if driver is None:
        raise RuntimeError("the session's connection is closed")
    with driver.cursor(row_factory=namedtuple_row) as cursor:
        return cursor.execute(statement, params, prepare=True).fetchall()


def row(session: Session, statement: str, params: Mapping[str, Any]) -> Any | None:
    """The first row of ``statement`` (a named tuple), or None."""
    found = rows(session, statement, params)
    return found[0] if found else None
