"""The API: bearer tokens only, scoped, expiring; one error envelope; 404 across tenants."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bpo.core.uow import unit_of_work
from bpo.identity import services
from bpo.identity.models import ApiToken, ClientRole, ClientUser, StaffUser
from tenants import provisioning
from tenants.db import utcnow
from tenants.models import TenantStatus
from tests.support.helpers import PASSWORD, login, unique


def issue(
    tenant: str | None = None,
    staff_email: str | None = None,
    days: int = 30,
    user_email: str | None = None,
):
    user_id = None
    if tenant and user_email:
        with unit_of_work(tenant) as uow:
            user_id = uow.session.scalar(
                select(ClientUser.id).where(ClientUser.email == user_email)
            )
    with unit_of_work() as uow:
        staff = (
            uow.session.scalar(select(StaffUser).where(StaffUser.email == staff_email))
            if staff_email
            else None
        )
        issued = services.issue_token(
            uow.session,
            name="test",
            days=days,
            tenant=services.tenant_by_slug(uow.session, tenant) if tenant else None,
            staff=staff,
            client_user_id=user_id,
        )
    return issued.secret, issued.token.id


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_me_with_a_tenant_token(client, world):
    secret, _ = issue(world.alpha, user_email=world.client_alpha_email)
    body = client.get("/api/v1/me", headers=bearer(secret)).get_json()
    assert body["scope"] == "tenant"
    assert body["tenant"] == {"slug": world.alpha, "name": "Alpha Corp"}
    assert body["user"]["email"] == world.client_alpha_email
    assert body["token"]["prefix"] == secret[:12]


def test_me_with_a_staff_token(client, world):
    secret, _ = issue(staff_email=world.supervisor_email)
    body = client.get("/api/v1/me", headers=bearer(secret)).get_json()
    assert body["scope"] == "staff" and body["tenant"] is None
    assert body["staff"]["email"] == world.supervisor_email


def test_tokens_are_stored_hashed(world):
    secret, token_id = issue(world.alpha)
    with unit_of_work() as uow:
        token = uow.session.get(ApiToken, token_id)
        assert token.token_hash != secret and secret not in token.token_hash
        assert len(token.token_hash) == 64


@pytest.mark.parametrize(
    "header", [None, "Basic dXNlcjpwdw==", "Bearer ", "Bearer not-a-token", "Token abc"]
)
def test_missing_or_bad_credentials_answer_401_in_the_envelope(client, world, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/me", headers=headers)
    assert_envelope(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_are_refused(client, world):
    expired, expired_id = issue(world.alpha)
    revoked, revoked_id = issue(world.alpha)
    with unit_of_work() as uow:
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.id == expired_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        uow.session.execute(
            update(ApiToken).where(ApiToken.id == revoked_id).values(revoked_at=utcnow())
        )
    assert (
        "expired"
        in assert_envelope(client.get("/api/v1/me", headers=bearer(expired)), 401, "unauthorized")[
            "message"
        ]
    )
    assert_envelope(client.get("/api/v1/me", headers=bearer(revoked)), 401, "unauthorized")


def test_token_expiry_must_be_sensible(world):
    with unit_of_work() as uow, pytest.raises(Exception) as raised:
        services.issue_token(
            uow.session, name="x", days=0, tenant=services.tenant_by_slug(uow.session, world.alpha)
        )
    assert "days" in raised.value.fields


def test_suspended_tenant_tokens_answer_403(client, engine, world):
    slug = unique("apisusp")
    provisioning.provision(engine, slug)
    secret, _ = issue(slug)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    provisioning.set_status(engine, slug, TenantStatus.SUSPENDED)
    assert (
        "suspended"
        in assert_envelope(client.get("/api/v1/me", headers=bearer(secret)), 403, "forbidden")[
            "message"
        ]
    )
    provisioning.set_status(engine, slug, TenantStatus.ACTIVE)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200


def test_ids_of_another_tenant_answer_404(client, world):
    # Give beta users whose ids alpha does not have.
    with unit_of_work(world.alpha) as uow:
        alpha_max = max(uow.session.scalars(select(ClientUser.id)))
    beta_ids = []
    with unit_of_work(world.beta) as uow:
        while not beta_ids or max(beta_ids) <= alpha_max:
            user = services.create_client(
                uow.session,
                email=unique("b") + "@beta.test",
                name="B",
                role=ClientRole.CLIENT_USER,
                password=PASSWORD,
            )
            beta_ids.append(user.id)
    beta_only = max(beta_ids)
    alpha_token, _ = issue(world.alpha)
    beta_token, _ = issue(world.beta)
    assert client.get(f"/api/v1/users/{beta_only}", headers=bearer(beta_token)).status_code == 200
    assert_envelope(
        client.get(f"/api/v1/users/{beta_only}", headers=bearer(alpha_token)), 404, "not_found"
    )
    listed = {
        u["email"]
        for u in client.get("/api/v1/users", headers=bearer(alpha_token)).get_json()["items"]
    }
    assert world.client_alpha_email in listed and world.client_beta_email not in listed


def test_staff_tokens_cannot_use_tenant_endpoints(client, world):
    secret, _ = issue(staff_email=world.admin_email)
    assert_envelope(client.get("/api/v1/users", headers=bearer(secret)), 403, "forbidden")


def test_the_api_ignores_session_cookies_and_sets_none(client, world):
    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    assert client.get(f"/portal/{world.alpha}/").status_code == 200
    response = client.get("/api/v1/me")  # the browser session's cookie is sent along
    assert_envelope(response, 401, "unauthorized")
    secret, _ = issue(world.alpha)
    ok = client.get("/api/v1/me", headers=bearer(secret))
    assert ok.status_code == 200 and "Set-Cookie" not in ok.headers


def test_api_is_exempt_from_csrf(client, world):
    """The API is protected by its bearer token, not by CSRF: no csrf error, ever."""
    secret, _ = issue(world.alpha)
    response = client.post("/api/v1/me", headers=bearer(secret))
    assert assert_envelope(response, 405, "method_not_allowed")["code"] != "csrf"


def test_unknown_api_paths_and_methods_use_the_envelope(client, world):
    secret, _ = issue(world.alpha)
    assert_envelope(client.get("/api/v1/nothing-here", headers=bearer(secret)), 404, "not_found")
    assert_envelope(client.delete("/api/v1/me", headers=bearer(secret)), 405, "method_not_allowed")
    assert_envelope(
        client.get("/api/v1/users/notanumber", headers=bearer(secret)), 404, "not_found"
    )
