"""Fixtures for page tests."""

import pytest

from tests.support.factories import ensure_form
from tests.support.helpers import login


@pytest.fixture
def alpha_client(client, world):
    """A client admin of tenant alpha, signed in to its portal; alpha has the W-9 form."""
    ensure_form(world.alpha)
    response = login(client, f"/portal/{world.alpha}/login", world.client_alpha_email)
    assert response.status_code == 302
    return client
