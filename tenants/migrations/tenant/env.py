"""Alembic environment of the tenant tree, run once per tenant schema.

Alembic does not honour ``schema_translate_map`` (alembic #1503), so, as in
Alembic's schema-level multi-tenancy recipe, the runner opens a transaction, runs
``SET LOCAL search_path`` to the tenant's schema and passes the connection here.
Operations and the ``alembic_version`` table are unqualified and land in that
schema; the setting ends with the transaction.
"""

from alembic import context

from tenants.db import unscoped_tenant_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=unscoped_tenant_metadata())
with context.begin_transaction():
    context.run_migrations()
