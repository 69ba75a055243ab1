"""REST API v1: bearer tokens only, JSON in and out, one error envelope.

Requests authenticate from the ``Authorization`` header alone: the session cookie
is never read here and no session is saved, so the API needs no CSRF token and
cannot be driven by another site through a browser's cookies.
"""

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bpo.api.v1.schemas import ClientUserSchema
from bpo.core.errors import Forbidden, NotFound, Unauthorized
from bpo.core.uow import bind_request_tenant, request_uow, unit_of_work
from bpo.identity.models import ApiToken, ClientUser, TokenScope
from bpo.identity.services import resolve_token

api_v1 = Blueprint("api_v1", __name__, url_prefix="/api/v1")


@api_v1.before_request
def authenticate() -> None:
    from bpo.api.v1.openapi import PUBLIC_ENDPOINTS

    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized("send a token: Authorization: Bearer <token>")
    # Its own short transaction in the shared schema, before the request binds a tenant.
    with unit_of_work() as uow:
        token = resolve_token(uow.session, raw.strip())
        g.api_token = token
    bind_request_tenant(token.tenant.slug if token.tenant else None)


def current_token() -> ApiToken:
    token: ApiToken = g.api_token
    return token


def tenant_token() -> ApiToken:
    token = current_token()
    if token.scope != TokenScope.TENANT:
        raise Forbidden("this endpoint needs a tenant-scoped token")
    return token


@api_v1.get("/me")
def me() -> ResponseReturnValue:
    token = current_token()
    body: dict[str, object] = {
        "scope": token.scope.value,
        "token": {
            "name": token.name,
            "prefix": token.prefix,
            "expires_at": token.expires_at.isoformat(),
        },
        "tenant": None,
        "staff": None,
        "user": None,
    }
    if token.tenant is not None:
        body["tenant"] = {"slug": token.tenant.slug, "name": token.tenant.name}
        if token.client_user_id is not None:
            user = request_uow().session.get(ClientUser, token.client_user_id)
            body["user"] = ClientUserSchema().dump(user) if user else None
    if token.staff is not None:
        body["staff"] = {
            "email": token.staff.email,
            "name": token.staff.name,
            "role": token.staff.role.value,
        }
    return jsonify(body)


@api_v1.get("/users")
def list_users() -> ResponseReturnValue:
    """The client users of the token's tenant."""
    tenant_token()
    users = request_uow().session.scalars(select(ClientUser).order_by(ClientUser.id))
    return jsonify(items=ClientUserSchema(many=True).dump(users))


@api_v1.get("/users/<int:user_id>")
def get_user(user_id: int) -> ResponseReturnValue:
    tenant_token()
    user = request_uow().session.get(ClientUser, user_id) if 0 < user_id < 2**63 else None
    if user is None:
        raise NotFound(f"no user {user_id}")
    return jsonify(ClientUserSchema().dump(user))


# Route modules register on the blueprint when imported.
from bpo.api.v1 import openapi, tasks  # noqa: E402, F401
