"""Helpers for tests: signing in through real forms, unique values."""

import re
import secrets

from flask.testing import FlaskClient

PASSWORD = "correct-horse-9"
CSRF_FIELD = re.compile(
    r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*name="csrf_token"'
)


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {url}"
    return found.group(1) or found.group(2)


def login(client: FlaskClient, url: str, email: str, password: str = PASSWORD):
    """Sign in through the real form (CSRF token included); returns the response."""
    token = csrf_token(client, url)
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"
