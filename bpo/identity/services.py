"""People and credentials. Callers own the transaction; nothing here commits."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bpo.core.auth import hash_password, new_session_token, verify_password
from bpo.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from bpo.identity.models import (
    ApiToken,
    ClientRole,
    ClientUser,
    MembershipRole,
    StaffMembership,
    StaffRole,
    StaffUser,
    TokenScope,
)
from tenants.db import utcnow
from tenants.models import Tenant

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "bpo_"  # noqa: S105 (a marker that makes leaked tokens greppable, not a secret)


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_PATTERN.fullmatch(email) or len(email) > 254:
        raise ValidationFailed(
            "enter a valid e-mail address", fields={"email": ["not a valid e-mail address"]}
        )
    return email


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationFailed(
            "password too short", fields={"password": [f"at least {MIN_PASSWORD} characters"]}
        )


def authenticate_staff(session: Session, email: str, password: str) -> StaffUser | None:
    """The active staff member with these credentials, or None (same cost either way)."""
    user = session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        return None
    if not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def authenticate_client(session: Session, email: str, password: str) -> ClientUser | None:
    """The active client user of the session's tenant with these credentials, or None."""
    user = session.scalar(select(ClientUser).where(ClientUser.email == email.strip().lower()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        return None
    if not user.active:
        return None
    user.last_login_at = utcnow()
    return user


Person = TypeVar("Person", StaffUser, ClientUser)


def _create_person(
    session: Session, model: type[Person], what: str, email: str, password: str, **fields: Any
) -> Person:
    email = normalize_email(email)
    check_password_strength(password)
    if session.scalar(select(model.id).where(model.email == email)) is not None:
        raise Conflict(f"{what} {email} exists", fields={"email": ["already in use"]})
    user = model(
        email=email,
        password_hash=hash_password(password),
        session_token=new_session_token(),
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def create_staff(
    session: Session,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    timezone: str = "UTC",
) -> StaffUser:
    return _create_person(
        session, StaffUser, "staff member", email, password, name=name, role=role, timezone=timezone
    )


def create_client(
    session: Session,
    *,
    email: str,
    name: str,
    role: ClientRole,
    password: str,
    timezone: str = "UTC",
) -> ClientUser:
    """Create a client user in the session's tenant."""
    return _create_person(
        session, ClientUser, "client user", email, password, name=name, role=role, timezone=timezone
    )


def set_password(user: StaffUser | ClientUser, password: str) -> None:
    """Change the password and end every session of this person."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()


def tenant_by_slug(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


def grant(
    session: Session, staff: StaffUser, tenant: Tenant, role: MembershipRole
) -> StaffMembership:
    """Let ``staff`` serve ``tenant`` in ``role`` (updates the role if already granted)."""
    membership = session.scalar(
        select(StaffMembership).where(
            StaffMembership.staff_id == staff.id, StaffMembership.tenant_id == tenant.id
        )
    )
    if membership is None:
        membership = StaffMembership(staff=staff, tenant=tenant, role=role)
        session.add(membership)
    membership.role = role
    session.flush()
    return membership


def served_tenants(session: Session, staff: StaffUser) -> list[tuple[Tenant, MembershipRole]]:
    """Tenants ``staff`` serves, with the role; admins oversee every tenant."""
    if staff.role == StaffRole.ADMIN:
        return [
            (t, MembershipRole.SUPERVISOR)
            for t in session.scalars(select(Tenant).order_by(Tenant.name))
        ]
    rows = session.execute(
        select(Tenant, StaffMembership.role)
        .join(StaffMembership, StaffMembership.tenant_id == Tenant.id)
        .where(StaffMembership.staff_id == staff.id)
        .order_by(Tenant.name)
    )
    return [(tenant, role) for tenant, role in rows]


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def issue_token(
    session: Session,
    *,
    name: str,
    days: int,
    tenant: Tenant | None = None,
    staff: StaffUser | None = None,
    client_user_id: int | None = None,
) -> IssuedToken:
    """Create a bearer token scoped to ``tenant`` or, without one, to ``staff``."""
    if days < 1 or days > 730:
        raise ValidationFailed("expiry out of range", fields={"days": ["between 1 and 730 days"]})
    if tenant is None and staff is None:
        raise ValidationFailed(
            "a token needs a tenant or a staff member", fields={"tenant": ["required"]}
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=secret[:12],
        token_hash=_hash_token(secret),
        scope=TokenScope.TENANT if tenant is not None else TokenScope.STAFF,
        tenant=tenant,
        staff=staff,
        client_user_id=client_user_id,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    return IssuedToken(token, secret)


def resolve_token(session: Session, raw: str, *, now: datetime | None = None) -> ApiToken:
    """The live token for ``raw``; Unauthorized if unknown, revoked or expired,
    Forbidden if its tenant is suspended."""
    now = now or utcnow()
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(raw)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("invalid or revoked token")
    if token.expires_at <= now:
        raise Unauthorized("token expired")
    if token.tenant is not None and not token.tenant.is_active:
        raise Forbidden(f"tenant {token.tenant.slug} is suspended")
    if token.staff is not None and not token.staff.active:
        raise Unauthorized("token owner is deactivated")
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token
