"""A client of one tenant can reach nothing of another, whatever the URL or cookie."""

from sqlalchemy import func, select

from bpo.core.uow import unit_of_work
from bpo.identity.models import ClientUser
from tests.support.helpers import login


def test_client_signs_in_to_own_portal_only(client, world):
    assert (
        login(client, f"/portal/{world.alpha}/login", world.client_alpha_email).status_code == 302
    )
    page = client.get(f"/portal/{world.alpha}/")
    assert page.status_code == 200
    assert "Alpha Corp" in page.get_data(as_text=True)
    assert world.client_beta_email not in page.get_data(as_text=True)


def test_credentials_of_tenant_a_do_not_open_tenant_b(client, world):
    assert login(client, f"/portal/{world.beta}/login", world.client_alpha_email).status_code == 401


def test_session_cookie_of_a_is_refused_on_b(client, world):
    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    response = client.get(f"/portal/{world.beta}/")
    assert response.status_code == 302
    assert response.location.startswith(f"/portal/{world.beta}/login")
    # And the alpha session is still good on alpha.
    assert client.get(f"/portal/{world.alpha}/").status_code == 200


def test_a_forged_cookie_naming_b_with_a_users_token_is_refused(client, app, world):
    """Same user id shape, other tenant: the token is looked up in B's schema and not found."""
    with unit_of_work(world.alpha) as uow:
        token = uow.session.scalar(
            select(ClientUser.session_token).where(ClientUser.email == world.client_alpha_email)
        )
    with client.session_transaction() as session:
        session["_user_id"] = f"client:{world.beta}:{token}"
        session["_fresh"] = True
    response = client.get(f"/portal/{world.beta}/")
    assert response.status_code == 302 and "/login" in response.location


def test_staff_session_does_not_open_the_portal(client, world):
    login(client, "/login", world.admin_email)
    assert client.get(f"/portal/{world.alpha}/").status_code == 403


def test_client_session_does_not_open_staff_pages(client, world):
    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    for url in ("/agent/", "/supervisor/", "/admin/"):
        assert client.get(url).status_code in (302, 403)


def test_slugs_in_urls_cannot_inject_sql(client, world):
    for slug in (
        "alpha'--",
        "alpha%22%3B%20drop%20schema%20bpo%20cascade%3B--",
        "pg_catalog",
        "public",
        "ALPHA",
    ):
        response = client.get(f"/portal/{slug}/login")
        assert response.status_code == 404
    assert client.get(f"/portal/{world.alpha}/login").status_code == 200


def test_unknown_tenant_is_404(client, world):
    assert client.get("/portal/nosuchtenant/login").status_code == 404


def test_agents_see_only_the_tenants_they_serve(client, world):
    login(client, "/login", world.agent_alpha_email)
    page = client.get("/agent/").get_data(as_text=True)
    assert "Alpha Corp" in page and "Beta Corp" not in page


def test_client_sign_ins_are_audited_in_their_own_tenant(client, world):
    from bpo.audit.models import AuditEvent

    with unit_of_work(world.beta) as uow:
        before_beta = uow.session.scalar(select(func.count()).select_from(AuditEvent))
    login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    with unit_of_work(world.alpha) as uow:
        event = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "sign_in" and event.subject_type == "client_user"
    with unit_of_work(world.beta) as uow:
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent)) == before_beta
