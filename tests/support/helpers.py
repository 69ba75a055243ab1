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


def ids_out_of_reach(tenant: str, other: str) -> None:
    """Make ``tenant``'s next task and attachment ids larger than any of ``other``'s.

    Both schemas number from 1, so a probe with another tenant's id could hit a
    row of one's own by coincidence; after this, such a probe must answer 404.
    """
    from sqlalchemy import func, select, text

    from bpo.core.uow import unit_of_work
    from bpo.work.models import Attachment, Task

    with unit_of_work(other) as uow:
        top = max(
            uow.session.scalar(select(func.max(Task.id))) or 0,
            uow.session.scalar(select(func.max(Attachment.id))) or 0,
        )
    with unit_of_work(tenant) as uow:
        for table in ("tasks", "attachments"):
            uow.session.execute(
                text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
                {"table": f'"tenant_{tenant}".{table}', "value": top + 1000},
            )
