"""The tenant migration runner: skips tenants at head, carries on past failures."""

import pytest
from sqlalchemy import select, text, update

from tenants import provisioning
from tenants.migrations import head_revision
from tenants.migrations.runner import migrate_tenants, pending_tenants
from tenants.models import Tenant
from tests.support.helpers import unique


def _rewind(engine, slug: str) -> None:
    """Make ``slug`` look like a tenant created before the tenant tree existed."""
    with engine.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA "tenant_{slug}" CASCADE')
        c.exec_driver_sql(f'CREATE SCHEMA "tenant_{slug}"')
        c.execute(update(Tenant).where(Tenant.slug == slug).values(schema_revision=None))


def _tables(engine, slug: str) -> set[str]:
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": f"tenant_{slug}"}
        )
        return set(rows.scalars())


def test_noop_run_touches_nobody(engine, world):
    head = head_revision("tenant")
    pending, current = pending_tenants(engine, head)
    assert pending == [] and current >= 2
    report = migrate_tenants(engine, concurrency=4)
    assert report.ok and report.migrated == [] and report.up_to_date == current


def test_pending_tenants_are_migrated_in_parallel_and_a_failure_is_reported(engine, world):
    good = [unique("mig") for _ in range(3)]
    broken = unique("broken")
    for slug in [*good, broken]:
        provisioning.provision(engine, slug)
        _rewind(engine, slug)
    # A tenant whose schema vanished cannot be migrated: the others carry on.
    with engine.begin() as c:
        c.exec_driver_sql(f'DROP SCHEMA "tenant_{broken}" CASCADE')
    seen: list[str] = []
    report = migrate_tenants(engine, concurrency=3, progress=lambda slug, error: seen.append(slug))

    assert sorted(report.migrated) == sorted(good)
    assert list(report.failed) == [broken]
    assert sorted(seen) == sorted([*good, broken])
    head = head_revision("tenant")
    with engine.connect() as c:
        rows = dict(
            c.execute(
                select(Tenant.slug, Tenant.schema_revision).where(Tenant.slug.in_([*good, broken]))
            ).all()
        )
        error = c.execute(select(Tenant.migration_error).where(Tenant.slug == broken)).scalar()
    assert all(rows[slug] == head for slug in good)
    assert rows[broken] is None
    assert error and "tenant_" + broken in error
    for slug in good:
        assert {"client_users", "audit_events", "alembic_version"} <= _tables(engine, slug)
    # The broken tenant stays pending and is retried (and reported) on the next run.
    again = migrate_tenants(engine, concurrency=2)
    assert list(again.failed) == [broken] and again.migrated == []
    provisioning.drop(engine, broken)


def test_only_named_tenants_are_migrated(engine, world):
    a, b = unique("only"), unique("only")
    for slug in (a, b):
        provisioning.provision(engine, slug)
        _rewind(engine, slug)
    report = migrate_tenants(engine, only=[a])
    assert report.migrated == [a]
    assert _tables(engine, b) == set()
    assert migrate_tenants(engine, only=[b]).migrated == [b]


def _shape(engine, slug: str) -> dict[str, set[tuple]]:
    """Columns, constraints, indexes and functions of a tenant schema, with the schema
    name removed."""
    schema = f"tenant_{slug}"
    with engine.connect() as c:
        columns = c.execute(
            text(
                "SELECT table_name, column_name, data_type, is_nullable, column_default"
                " FROM information_schema.columns WHERE table_schema = :s"
            ),
            {"s": schema},
        ).all()
        constraints = c.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE connamespace = CAST(:s AS regnamespace)"
            ),
            {"s": schema},
        ).all()
        indexes = c.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :s"),
            {"s": schema},
        ).all()
        functions = c.execute(
            text(
                "SELECT proname, pg_get_function_identity_arguments(oid), prosrc FROM pg_proc"
                " WHERE pronamespace = CAST(:s AS regnamespace)"
            ),
            {"s": schema},
        ).all()

    def strip(row) -> tuple:
        return tuple(str(v).replace(f"{schema}.", "").replace(f'"{schema}".', "") for v in row)

    return {
        "columns": {strip(r) for r in columns},
        "constraints": {strip(r) for r in constraints},
        "indexes": {strip(r) for r in indexes},
        "functions": {strip(r) for r in functions},
    }


def test_the_tenant_tree_builds_the_same_schema_as_provisioning(engine, world):
    """Provisioning runs DDL from the models; the migration tree must end at the same place."""
    migrated, provisioned = unique("tree"), unique("ddl")
    provisioning.provision(engine, migrated, "By migrations")
    provisioning.provision(engine, provisioned, "By DDL")
    _rewind(engine, migrated)
    report = migrate_tenants(engine, only=[migrated])
    assert report.ok and report.migrated == [migrated]
    by_tree, by_ddl = _shape(engine, migrated), _shape(engine, provisioned)
    assert by_tree["columns"] and by_tree["indexes"] and by_tree["functions"]
    for part in ("columns", "constraints", "indexes", "functions"):
        only_tree, only_ddl = by_tree[part] - by_ddl[part], by_ddl[part] - by_tree[part]
        assert (sorted(only_tree), sorted(only_ddl)) == ([], []), part


@pytest.mark.parametrize("tree", ["shared", "tenant"])
def test_the_models_need_no_migration_that_is_not_written(engine, world, tree):
    """Alembic's autogenerate finds nothing to add: every model change has its revision."""
    from alembic import command
    from alembic.util.exc import AutogenerateDiffsDetected

    from tenants.binding import set_local_search_path
    from tenants.migrations import alembic_config

    config = alembic_config(tree)
    with engine.connect() as connection, connection.begin() as transaction:
        if tree == "tenant":
            set_local_search_path(connection, world.alpha)
        config.attributes["connection"] = connection
        try:
            command.check(config)
        except AutogenerateDiffsDetected as exc:
            pytest.fail(f"the {tree} tree lacks a revision: {exc}")
        finally:
            transaction.rollback()
