"""Sign-in for staff and clients: roles, CSRF, throttling, sign-out, suspension."""

import pytest
from sqlalchemy import select

from bpo.core.uow import unit_of_work
from bpo.identity import services
from bpo.identity.models import ClientRole, ClientUser, StaffUser
from tenants import provisioning
from tenants.models import TenantStatus
from tests.support.helpers import PASSWORD, csrf_token, login, unique


@pytest.mark.parametrize(
    ("email_attr", "home"),
    [
        ("admin_email", "/admin/"),
        ("supervisor_email", "/supervisor/"),
        ("agent_alpha_email", "/agent/"),
    ],
)
def test_staff_land_on_their_home_page(client, world, email_attr, home):
    response = login(client, "/login", getattr(world, email_attr))
    assert response.status_code == 302 and response.location == home
    assert client.get(home).status_code == 200


def test_wrong_password_is_refused_with_the_same_message_as_unknown_user(client, world):
    wrong = login(client, "/login", world.admin_email, "not-the-password")
    unknown = login(client, "/login", "nobody@staff.test", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "E-mail or password is wrong." in wrong.get_data(as_text=True)
    assert "E-mail or password is wrong." in unknown.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_empty_form_names_the_fields(client, world):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your e-mail address." in body and "Enter your password." in body


def test_forms_without_csrf_token_are_refused(client, world):
    response = client.post("/login", data={"email": world.admin_email, "password": PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    response = client.post(
        f"/portal/{world.alpha}/login",
        data={"email": world.client_alpha_email, "password": PASSWORD},
    )
    assert response.status_code == 400


def test_roles_are_enforced_on_staff_pages(client, world):
    login(client, "/login", world.agent_alpha_email)
    assert client.get("/agent/").status_code == 200
    assert client.get("/supervisor/").status_code == 403
    assert client.get("/admin/").status_code == 403


def test_failed_logins_are_throttled_per_account(client, app, world):
    app.config["BPO_LOGIN_LIMIT_ACCOUNT"] = "3 per 15 minutes"
    try:
        for _ in range(3):
            assert (
                login(client, "/login", world.supervisor_email, "wrong-password").status_code == 401
            )
        # Even the right password is refused while the account is throttled.
        assert login(client, "/login", world.supervisor_email).status_code == 429
        # Another account from the same address is not throttled by this limit.
        assert login(client, "/login", world.agent_alpha_email).status_code == 302
    finally:
        app.config["BPO_LOGIN_LIMIT_ACCOUNT"] = "5 per 15 minutes"


def test_failed_logins_are_throttled_per_address(client, app, world):
    app.config["BPO_LOGIN_LIMIT_ADDRESS"] = "4 per 15 minutes"
    try:
        for i in range(4):
            assert (
                login(client, "/login", f"guess{i}@staff.test", "wrong-password").status_code == 401
            )
        assert login(client, "/login", world.admin_email).status_code == 429
        # Successful logins are not counted: another address is unaffected.
        other = client.application.test_client()
        other.environ_base["REMOTE_ADDR"] = "10.9.8.7"
        assert login(other, "/login", world.admin_email).status_code == 302
    finally:
        app.config["BPO_LOGIN_LIMIT_ADDRESS"] = "30 per 15 minutes"


def test_successful_logins_do_not_use_up_the_limit(client, app, world):
    app.config["BPO_LOGIN_LIMIT_ACCOUNT"] = "2 per 15 minutes"
    try:
        for _ in range(4):
            assert login(client, "/login", world.admin_email).status_code == 302
    finally:
        app.config["BPO_LOGIN_LIMIT_ACCOUNT"] = "5 per 15 minutes"


def test_logout_needs_csrf_and_ends_the_session(client, world):
    login(client, "/login", world.admin_email)
    assert client.post("/logout").status_code == 400
    token = csrf_token(client, "/admin/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_next_parameter_cannot_leave_the_site(client, world):
    token = csrf_token(client, "/login")
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.post(
            f"/login?next={target}",
            data={"email": world.admin_email, "password": PASSWORD, "csrf_token": token},
        )
        assert response.location == "/admin/"
        token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=/supervisor/",
        data={"email": world.admin_email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.location == "/supervisor/"


def test_password_change_ends_existing_sessions(client, app, world):
    email = unique("rotate") + "@alpha.test"
    with unit_of_work(world.alpha) as uow:
        services.create_client(
            uow.session,
            email=email,
            name="Rotating",
            role=ClientRole.CLIENT_USER,
            password=PASSWORD,
        )
    assert login(client, f"/portal/{world.alpha}/login", email).status_code == 302
    assert client.get(f"/portal/{world.alpha}/").status_code == 200
    with unit_of_work(world.alpha) as uow:
        user = uow.session.scalar(select(ClientUser).where(ClientUser.email == email))
        services.set_password(user, "a-brand-new-secret")
    assert client.get(f"/portal/{world.alpha}/").status_code == 302


def test_deactivated_staff_cannot_log_in_and_lose_their_session(client, world):
    email = unique("leaver") + "@staff.test"
    with unit_of_work() as uow:
        from bpo.identity.models import StaffRole

        services.create_staff(
            uow.session, email=email, name="Leaver", role=StaffRole.AGENT, password=PASSWORD
        )
    assert login(client, "/login", email).status_code == 302
    with unit_of_work() as uow:
        uow.session.scalar(select(StaffUser).where(StaffUser.email == email)).active = False
    assert client.get("/agent/").status_code == 302
    assert login(client, "/login", email).status_code == 401


def test_client_of_suspended_tenant_cannot_log_in(client, engine, world):
    slug = unique("susp")
    provisioning.provision(engine, slug)
    with unit_of_work(slug) as uow:
        services.create_client(
            uow.session,
            email="x@susp.test",
            name="X",
            role=ClientRole.CLIENT_ADMIN,
            password=PASSWORD,
        )
    assert login(client, f"/portal/{slug}/login", "x@susp.test").status_code == 302
    provisioning.set_status(engine, slug, TenantStatus.SUSPENDED)
    page = client.get(f"/portal/{slug}/")
    assert page.status_code == 403 and "suspended" in page.get_data(as_text=True)
    assert client.get(f"/portal/{slug}/login").status_code == 403
    provisioning.set_status(engine, slug, TenantStatus.ACTIVE)
    assert client.get(f"/portal/{slug}/").status_code == 200
