"""Sign-in pages in a real browser: forms, CSRF, landing pages, errors, tenant isolation."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

TOPBAR_BACKGROUND = "rgb(20, 33, 61)"  # .topbar in bpo/static/app.css: the stylesheet applies


def sign_in(page: Page, login_path: str, email: str, password: str) -> None:
    page.goto(login_path)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def path_is(path: str) -> re.Pattern[str]:
    """A URL whose path is exactly ``path`` (any query string)."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?$")


def test_client_signs_in_to_the_portal(page: Page, world, artifacts: Path):
    sign_in(page, f"/portal/{world.alpha}/login", world.client_alpha_email, world.password)

    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/"))
    expect(page.locator(".topbar .tenant-name")).to_have_text("Alpha Corp")
    account = page.locator("dl.facts")
    expect(account).to_contain_text("Alpha Corp")
    expect(account).to_contain_text(world.client_alpha_email)
    expect(page.locator("body")).not_to_contain_text("Beta Corp")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator(".topbar")).to_have_css("background-color", TOPBAR_BACKGROUND)
    page.screenshot(path=artifacts / "portal-client.png", full_page=True)


def test_agent_signs_in_to_the_workspace(page: Page, world, artifacts: Path):
    sign_in(page, "/login", world.agent_alpha_email, world.password)

    expect(page).to_have_url(path_is("/agent/"))
    expect(page.get_by_role("heading", name="Workspace")).to_be_visible()
    served = page.locator("table.table tbody")
    expect(served.locator("tr")).to_have_count(1)
    expect(served).to_contain_text("Alpha Corp")
    expect(page.locator("body")).not_to_contain_text("Beta Corp")
    expect(page.locator(".topbar")).to_have_css("background-color", TOPBAR_BACKGROUND)
    page.screenshot(path=artifacts / "agent-workspace.png", full_page=True)


@pytest.mark.parametrize(
    ("login_path", "email_attr"),
    [("/portal/alpha/login", "client_alpha_email"), ("/login", "agent_alpha_email")],
    ids=["portal", "staff"],
)
def test_wrong_password_shows_an_error_and_stays_on_the_login_page(
    page: Page, world, login_path: str, email_attr: str
):
    sign_in(page, login_path, getattr(world, email_attr), "not-the-password")

    expect(page.get_by_role("alert")).to_have_text("E-mail or password is wrong.")
    expect(page).to_have_url(path_is(login_path))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    # The e-mail is kept for another try; the password is not sent back.
    expect(page.get_by_label("E-mail")).to_have_value(getattr(world, email_attr))
    expect(page.get_by_label("Password")).to_have_value("")


def test_empty_submit_shows_field_errors(page: Page, world):
    page.goto(f"/portal/{world.alpha}/login")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#email-error")).to_have_text("Enter your e-mail address.")
    expect(page.locator("#password-error")).to_have_text("Enter your password.")
    expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/login"))
    expect(page.get_by_role("alert")).to_have_count(0)


def test_alpha_session_is_not_honoured_on_beta_portal(page: Page, world):
    sign_in(page, f"/portal/{world.alpha}/login", world.client_alpha_email, world.password)
    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/"))

    page.goto(f"/portal/{world.beta}/")

    expect(page).to_have_url(path_is(f"/portal/{world.beta}/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Beta Corp · client sign-in")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(world.client_alpha_email)
    # The same browser is still signed in to alpha: the cookie was refused, not lost.
    page.goto(f"/portal/{world.alpha}/")
    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/"))
    expect(page.locator("dl.facts")).to_contain_text(world.client_alpha_email)


def test_sign_out_ends_the_session(page: Page, world):
    sign_in(page, f"/portal/{world.alpha}/login", world.client_alpha_email, world.password)
    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/"))

    page.locator(".topbar").get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/login"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(f"/portal/{world.alpha}/")
    expect(page).to_have_url(path_is(f"/portal/{world.alpha}/login"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(world.client_alpha_email)
