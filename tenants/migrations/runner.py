"""Applying the two trees: ``shared`` once, ``tenant`` to every tenant schema.

The tenant run reads each tenant's recorded revision from ``bpo.tenants`` first
and connects only to tenants behind head, so a run with nothing to do is one
query. Pending tenants are migrated by a pool of worker processes (Alembic's
``op`` and ``context`` are process-global, so threads cannot share them), each
tenant in its own transaction that also records the new revision. A failing
tenant is rolled back whole, recorded with its error and reported; the others
carry on.
"""

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

from alembic import command
from sqlalchemy import Engine, create_engine, select, update
from sqlalchemy.pool import NullPool

from tenants.binding import set_local_search_path
from tenants.db import utcnow
from tenants.migrations import alembic_config, head_revision
from tenants.models import Tenant
from tenants.naming import schema_name
from tenants.provisioning import TenantError, ensure_shared_schema, schema_exists

log = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    head: str
    up_to_date: int = 0
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def migrate_shared(engine: Engine) -> None:
    """Upgrade schema ``bpo`` to the shared tree's head."""
    ensure_shared_schema(engine)
    config = alembic_config("shared")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def upgrade_tenant(engine: Engine, slug: str, head: str) -> None:
    """Upgrade one tenant schema to ``head`` and record it, in one transaction."""
    config = alembic_config("tenant")
    with engine.begin() as connection:
        if not schema_exists(connection, slug):
            raise TenantError(f"schema {schema_name(slug)} does not exist")
        set_local_search_path(connection, slug)
        config.attributes["connection"] = connection
        command.upgrade(config, head)
        connection.execute(
            update(Tenant)
            .where(Tenant.slug == slug)
            .values(schema_revision=head, migrated_at=utcnow(), migration_error=None)
        )


def pending_tenants(
    engine: Engine, head: str, only: Iterable[str] | None = None
) -> tuple[list[str], int]:
    """Slugs of tenants whose recorded revision is not ``head``, and how many are."""
    query = select(Tenant.slug, Tenant.schema_revision).order_by(Tenant.slug)
    if only is not None:
        query = query.where(Tenant.slug.in_(list(only)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    pending = [slug for slug, revision in rows if revision != head]
    return pending, len(rows) - len(pending)


_worker_engine: Engine | None = None


def _init_worker(url: str) -> None:
    global _worker_engine
    _worker_engine = create_engine(url, poolclass=NullPool)


def _migrate_in_worker(slug: str, head: str) -> None:
    assert _worker_engine is not None
    upgrade_tenant(_worker_engine, slug, head)


def _record_failure(engine: Engine, slug: str, error: str) -> None:
    with engine.begin() as connection:
        connection.execute(update(Tenant).where(Tenant.slug == slug).values(migration_error=error))


def migrate_tenants(
    engine: Engine,
    *,
    concurrency: int = 4,
    only: Iterable[str] | None = None,
    progress: Callable[[str, str | None], None] | None = None,
) -> MigrationReport:
    """Bring every tenant (or those in ``only``) to the tenant tree's head.

    ``progress(slug, error)`` is called as each tenant finishes.
    """
    head = head_revision("tenant")
    pending, current = pending_tenants(engine, head, only)
    report = MigrationReport(head=head, up_to_date=current)

    def done(slug: str, error: str | None) -> None:
        if error is None:
            report.migrated.append(slug)
        else:
            report.failed[slug] = error
            _record_failure(engine, slug, error)
            log.error("tenant %s failed to migrate: %s", slug, error)
        if progress:
            progress(slug, error)

    if len(pending) <= 1 or concurrency <= 1:
        for slug in pending:
            try:
                upgrade_tenant(engine, slug, head)
            except Exception as exc:
                done(slug, f"{type(exc).__name__}: {exc}")
            else:
                done(slug, None)
        return report

    url = engine.url.render_as_string(hide_password=False)
    workers = min(concurrency, len(pending))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(url,),
    ) as pool:
        futures = {pool.submit(_migrate_in_worker, slug, head): slug for slug in pending}
        for future in as_completed(futures):
            failure = future.exception()
            done(
                futures[future], None if failure is None else f"{type(failure).__name__}: {failure}"
            )
    return report
