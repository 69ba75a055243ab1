"""Fixtures for page tests."""

import pytest


@pytest.fixture
def alpha_client(alpha_portal):
    """A client admin of tenant alpha, signed in to its portal; alpha has the W-9 form."""
    return alpha_portal
