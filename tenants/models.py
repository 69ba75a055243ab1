"""The tenant registry, in the shared schema."""

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.db import SharedModel, bigint_pk, portable_enum, utcnow
from tenants.naming import schema_name


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(SharedModel):
    """A client business. Its data lives in schema ``tenant_<slug>``."""

    __tablename__ = "tenants"

    id: Mapped[int] = bigint_pk()
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[TenantStatus] = mapped_column(
        portable_enum(TenantStatus, "tenant_status"), default=TenantStatus.ACTIVE
    )
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The tenant tree's Alembic revision applied to this tenant's schema, so that a
    # migration run can skip tenants already at head without connecting to them.
    schema_revision: Mapped[str | None] = mapped_column(String(32))
    migrated_at: Mapped[datetime | None]
    migration_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def schema(self) -> str:
        return schema_name(self.slug)

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Tenant {self.slug} {self.status.value}>"
