"""Staff (shared schema), client users (tenant schema) and API tokens (shared schema)."""

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.db import SharedModel, TenantModel, bigint_pk, portable_enum, utcnow
from tenants.models import Tenant


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class MembershipRole(enum.StrEnum):
    """What a staff member does for one tenant."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"


class ClientRole(enum.StrEnum):
    CLIENT_ADMIN = "client_admin"
    CLIENT_USER = "client_user"


class TokenScope(enum.StrEnum):
    TENANT = "tenant"
    STAFF = "staff"


class _Person:
    """Columns every login-holding person has, in whichever schema they live."""

    id: Mapped[int] = bigint_pk()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Flask-Login's alternative id: rotated on password change, which ends every
    # session of that person everywhere.
    session_token: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class StaffUser(_Person, SharedModel):
    """A provider employee: admin, supervisor or agent."""

    __tablename__ = "staff_users"

    role: Mapped[StaffRole] = mapped_column(portable_enum(StaffRole, "staff_role"))
    memberships: Mapped[list["StaffMembership"]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<StaffUser {self.email} {self.role.value}>"


class StaffMembership(SharedModel):
    """Staff member ``staff`` serves ``tenant`` in ``role``."""

    __tablename__ = "staff_memberships"
    __table_args__ = (UniqueConstraint("staff_id", "tenant_id"),)

    id: Mapped[int] = bigint_pk()
    staff_id: Mapped[int] = mapped_column(ForeignKey(StaffUser.id, ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey(Tenant.id, ondelete="CASCADE"), index=True)
    role: Mapped[MembershipRole] = mapped_column(portable_enum(MembershipRole, "membership_role"))
    # An agent in the tenant's overflow group takes work nobody qualified took in time.
    overflow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[StaffUser] = relationship(back_populates="memberships")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class ClientUser(_Person, TenantModel):
    """A person of the client business; lives in the tenant's own schema."""

    __tablename__ = "client_users"

    role: Mapped[ClientRole] = mapped_column(portable_enum(ClientRole, "client_role"))

    def __repr__(self) -> str:
        return f"<ClientUser {self.email} {self.role.value}>"


class ApiToken(SharedModel):
    """A bearer token, stored as its SHA-256; scoped to one tenant or to staff."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "(scope = 'tenant' AND tenant_id IS NOT NULL)"
            " OR (scope = 'staff' AND staff_id IS NOT NULL AND tenant_id IS NULL)",
            name="scope_owner",
        ),
    )

    id: Mapped[int] = bigint_pk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[TokenScope] = mapped_column(portable_enum(TokenScope, "token_scope"))
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey(Tenant.id, ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey(StaffUser.id, ondelete="CASCADE"))
    # The client user a tenant token acts for, if any; no foreign key across schemas.
    client_user_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    tenant: Mapped[Tenant | None] = relationship(lazy="joined")
    staff: Mapped[StaffUser | None] = relationship(lazy="joined")
