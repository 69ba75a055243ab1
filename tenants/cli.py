"""``flask tenants …`` and ``flask db …``: tenant lifecycle and both migration trees."""

import sys

import click
from alembic import command
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine, select

from tenants import provisioning
from tenants.binding import set_local_search_path
from tenants.migrations import alembic_config
from tenants.migrations.runner import migrate_shared, migrate_tenants
from tenants.models import Tenant, TenantStatus
from tenants.naming import InvalidSlug


def _engine() -> Engine:
    engine: Engine = current_app.extensions["sqlalchemy"].engine
    return engine


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group("tenants")
def tenants_cli() -> None:
    """Create, list, migrate, suspend, resume and drop tenants."""


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: from the slug).")
@click.option("--timezone", default="UTC", show_default=True)
@with_appcontext
def create(slug: str, name: str | None, timezone: str) -> None:
    """Provision tenant SLUG in schema tenant_SLUG (idempotent)."""
    try:
        result = provisioning.provision(_engine(), slug, name, timezone=timezone)
    except (InvalidSlug, provisioning.TenantError) as exc:
        _fail(str(exc))
        return
    verb = "created" if result.created else "already exists:"
    click.echo(f"{verb} tenant {result.slug} (schema tenant_{result.slug})")


@tenants_cli.command("list")
@with_appcontext
def list_() -> None:
    """List tenants with status and schema revision."""
    with _engine().connect() as connection:
        tenants = connection.execute(select(Tenant.__table__).order_by(Tenant.slug)).all()
    if not tenants:
        click.echo("no tenants")
        return
    click.echo(f"{'slug':<24} {'status':<10} {'revision':<14} name")
    for t in tenants:
        flag = "  MIGRATION FAILED" if t.migration_error else ""
        click.echo(
            f"{t.slug:<24} {t.status.value:<10} {t.schema_revision or '-':<14} {t.name}{flag}"
        )


@tenants_cli.command("migrate")
@click.option("--tenant", "only", multiple=True, help="Only these tenants (repeatable).")
@click.option("--concurrency", type=click.IntRange(1, 32), help="Parallel migrations.")
@with_appcontext
def migrate(only: tuple[str, ...], concurrency: int | None) -> None:
    """Apply the tenant tree to every tenant behind head."""

    def progress(slug: str, error: str | None) -> None:
        click.echo(f"  {slug}: {'ok' if error is None else 'FAILED ' + error}")

    report = migrate_tenants(
        _engine(),
        concurrency=concurrency or current_app.config["BPO_MIGRATE_CONCURRENCY"],
        only=only or None,
        progress=progress,
    )
    click.echo(
        f"head {report.head}: {len(report.migrated)} migrated, {report.up_to_date} already at head,"
        f" {len(report.failed)} failed"
    )
    if not report.ok:
        _fail("failed tenants: " + ", ".join(sorted(report.failed)))


def _set_status(slug: str, status: TenantStatus) -> None:
    try:
        provisioning.set_status(_engine(), slug, status)
    except (InvalidSlug, provisioning.TenantError) as exc:
        _fail(str(exc))
        return
    click.echo(f"tenant {slug} is {status.value}")


@tenants_cli.command("suspend")
@click.argument("slug")
@with_appcontext
def suspend(slug: str) -> None:
    """Suspend SLUG: its users cannot log in and its API tokens answer 403."""
    _set_status(slug, TenantStatus.SUSPENDED)


@tenants_cli.command("resume")
@click.argument("slug")
@with_appcontext
def resume(slug: str) -> None:
    """Resume a suspended tenant."""
    _set_status(slug, TenantStatus.ACTIVE)


@tenants_cli.command("drop")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def drop(slug: str, yes: bool) -> None:
    """Drop SLUG's schema and every record of it. Cannot be undone."""
    if not yes:
        click.confirm(f"Drop tenant {slug} and all of its data?", abort=True)
    try:
        provisioning.drop(_engine(), slug)
    except (InvalidSlug, provisioning.TenantError) as exc:
        _fail(str(exc))
        return
    click.echo(f"dropped tenant {slug}")


@click.group("db")
def db_cli() -> None:
    """Migrations of the shared tree (schema bpo) and the tenant tree."""


@db_cli.command("upgrade")
@with_appcontext
def upgrade() -> None:
    """Upgrade the shared schema, then every tenant."""
    migrate_shared(_engine())
    click.echo("shared schema at head")
    report = migrate_tenants(_engine(), concurrency=current_app.config["BPO_MIGRATE_CONCURRENCY"])
    click.echo(f"tenants: {len(report.migrated)} migrated, {report.up_to_date} at head")
    if not report.ok:
        _fail("failed tenants: " + ", ".join(sorted(report.failed)))


@db_cli.command("revision")
@click.option("--tree", type=click.Choice(["shared", "tenant"]), required=True)
@click.option("-m", "--message", required=True)
@click.option("--against", help="Tenant whose schema autogenerate compares with (tenant tree).")
@with_appcontext
def revision(tree: str, message: str, against: str | None) -> None:
    """Autogenerate a revision in TREE from the models."""
    config = alembic_config(tree)
    with _engine().connect() as connection, connection.begin() as transaction:
        if tree == "tenant":
            if not against:
                _fail("--against SLUG is required for the tenant tree")
                return
            set_local_search_path(connection, against)
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
        transaction.rollback()
