import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from tenants import provisioning
from tenants.binding import set_local_search_path
from tenants.db import TenantModel, unscoped_tenant_metadata
from tenants.migrations import head_revision
from tenants.migrations.runner import upgrade_tenant
from tenants.models import Tenant, TenantStatus
from tenants.naming import InvalidSlug
from tests.support.helpers import unique


def schemas(engine) -> set[str]:
    with engine.connect() as c:
        return set(c.execute(text("SELECT nspname FROM pg_namespace")).scalars())


def tables_in(engine, schema: str) -> set[str]:
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
        )
        return set(rows.scalars())


def test_provision_creates_schema_with_every_tenant_table_and_nothing_in_public(engine, world):
    public_before = tables_in(engine, "public")
    slug = unique("prov")
    result = provisioning.provision(engine, slug, "Provisioned Ltd")
    assert result.created
    assert f"tenant_{slug}" in schemas(engine)
    expected = {t.name for t in TenantModel.metadata.sorted_tables} | {"alembic_version"}
    assert tables_in(engine, f"tenant_{slug}") == expected
    assert tables_in(engine, "public") == public_before == set()
    with engine.connect() as c:
        tenant = c.execute(select(Tenant).where(Tenant.slug == slug)).one()
        version = c.execute(
            text(f'SELECT version_num FROM "tenant_{slug}".alembic_version')
        ).scalar()
    assert tenant.schema_revision == head_revision("tenant") == version
    assert tenant.status == TenantStatus.ACTIVE


def test_provision_is_idempotent(engine, world):
    slug = unique("idem")
    first = provisioning.provision(engine, slug)
    second = provisioning.provision(engine, slug)
    assert first.created and not second.created
    assert first.tenant_id == second.tenant_id
    with engine.connect() as c:
        assert c.execute(select(Tenant.id).where(Tenant.slug == slug)).all() == [(first.tenant_id,)]


@pytest.mark.parametrize("slug", ["Robert'); DROP", "pg_x", "public", "x" * 41, "UPPER"])
def test_provision_rejects_bad_slugs_and_writes_nothing(engine, world, slug):
    before = schemas(engine)
    with engine.connect() as c:
        count = c.execute(text("SELECT count(*) FROM bpo.tenants")).scalar()
    with pytest.raises(InvalidSlug):
        provisioning.provision(engine, slug)
    assert schemas(engine) == before
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM bpo.tenants")).scalar() == count


def test_provision_refuses_an_unregistered_schema_of_that_name(engine, world):
    slug = unique("squat")
    with engine.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "tenant_{slug}"')
    with pytest.raises(provisioning.TenantError, match="not a registered tenant"):
        provisioning.provision(engine, slug)


def test_migrations_and_metadata_build_the_same_tenant_schema(engine, world):
    """The tenant tree applied from nothing equals what provisioning creates."""
    slug = unique("drift")
    with engine.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "tenant_{slug}"')
        c.execute(
            Tenant.__table__.insert().values(
                slug=slug, name="Drift", status=TenantStatus.ACTIVE, timezone="UTC"
            )
        )
    upgrade_tenant(engine, slug, head_revision("tenant"))
    with engine.begin() as c:
        set_local_search_path(c, slug)
        diff = compare_metadata(MigrationContext.configure(c), unscoped_tenant_metadata())
    assert diff == []


def test_suspend_resume_and_drop(engine, world):
    slug = unique("life")
    provisioning.provision(engine, slug)
    provisioning.set_status(engine, slug, TenantStatus.SUSPENDED)
    with engine.connect() as c:
        assert (
            c.execute(select(Tenant.status).where(Tenant.slug == slug)).scalar()
            == TenantStatus.SUSPENDED
        )
    provisioning.set_status(engine, slug, TenantStatus.ACTIVE)
    provisioning.drop(engine, slug)
    assert f"tenant_{slug}" not in schemas(engine)
    with engine.connect() as c:
        assert c.execute(select(Tenant.id).where(Tenant.slug == slug)).first() is None
    with pytest.raises(provisioning.TenantError):
        provisioning.drop(engine, slug)
    with pytest.raises(provisioning.TenantError):
        provisioning.set_status(engine, slug, TenantStatus.ACTIVE)
