"""Who is asking: staff and client principals for Flask-Login, and password checks.

Flask-Login's ``user_loader`` receives no tenant, so the id stored in the session
names it: ``staff:<token>`` or ``client:<slug>:<token>``, where ``<token>`` is the
person's ``session_token`` (rotated on password change). A client id is only
honoured on a request for that same tenant: tenant A's cookie on tenant B's portal
is an anonymous visitor there.
"""

import secrets
from dataclasses import dataclass

from flask import Flask, g, redirect, request, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from bpo.core.uow import request_uow
from bpo.extensions import login_manager
from bpo.identity.models import ClientUser, StaffRole, StaffUser

# Verifying against this keeps a login for an unknown e-mail as slow as a real one.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort check: an unknown user costs as much as a wrong password."""
    return check_password_hash(password_hash or _DUMMY_HASH, password) and password_hash is not None


@dataclass
class StaffPrincipal:
    user: StaffUser
    kind = "staff"
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.user.active

    @property
    def tenant_slug(self) -> None:
        return None

    @property
    def role(self) -> StaffRole:
        return self.user.role

    def get_id(self) -> str:
        return f"staff:{self.user.session_token}"


@dataclass
class ClientPrincipal:
    user: ClientUser
    tenant_slug: str
    kind = "client"
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        return f"client:{self.tenant_slug}:{self.user.session_token}"


def load_principal(user_id: str) -> StaffPrincipal | ClientPrincipal | None:
    kind, _, rest = user_id.partition(":")
    if kind == "staff":
        staff = request_uow().session.scalar(
            select(StaffUser).where(StaffUser.session_token == rest)
        )
        return StaffPrincipal(staff) if staff is not None and staff.active else None
    if kind == "client":
        slug, _, token = rest.partition(":")
        # Only on a request for that very tenant (its portal URL binds the request).
        if not slug or slug != g.get("bpo_tenant_slug"):
            return None
        client = request_uow().session.scalar(
            select(ClientUser).where(ClientUser.session_token == token)
        )
        return ClientPrincipal(client, slug) if client is not None and client.active else None
    return None


def _unauthorized() -> Response:
    slug = g.get("bpo_tenant_slug")
    if slug and request.blueprint == "portal":
        return redirect(url_for("portal.login", slug=slug, next=request.full_path))
    return redirect(url_for("auth.login", next=request.full_path))


def init_auth(app: Flask) -> None:
    login_manager.user_loader(load_principal)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "basic"
