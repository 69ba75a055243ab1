"""Alembic environment of the shared tree (schema ``bpo``).

The runner passes an open connection in ``config.attributes["connection"]``.
"""

from alembic import context

from tenants.db import SHARED_SCHEMA, SharedModel

connection = context.config.attributes["connection"]


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # Only ever look at the shared schema; tenant schemas belong to the tenant tree.
    return name == SHARED_SCHEMA if type_ == "schema" else True


context.configure(
    connection=connection,
    target_metadata=SharedModel.metadata,
    version_table_schema=SHARED_SCHEMA,
    include_schemas=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
