"""A fuzzer driven by the OpenAPI document: no input may make the API answer 5xx.

Schemathesis generates valid and invalid requests for every operation from
/api/v1/openapi.json and sends them to the app in-process (WSGI), with a real
tenant token, against the real PostgreSQL and Redis of the suite.
"""

import contextvars

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from bpo.api.v1.openapi import document
from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.work.services import create_task
from tests.api.test_api_auth import bearer, issue
from tests.support.factories import (
    ensure_form,
    invoice_task,
    record_task,
    task_count,
    ticket_task,
)


@pytest.fixture
def token(world):
    ensure_form(world.alpha)
    with unit_of_work(world.alpha) as uow:  # small ids exist, so paths reach real tasks
        if task_count(world.alpha) < 3:
            for factory in (ticket_task, invoice_task, record_task):
                create_task(uow, factory(), SYSTEM)
    return bearer(issue(world.alpha, user_email=world.client_alpha_email)[0])


# The same document the app serves (a test below checks they are equal); the app
# under test is attached per test, as schemathesis.pytest.from_fixture does not
# work with pytest 9.
schema = schemathesis.openapi.from_dict(document())
SEEN: set[int] = set()  # statuses answered, to prove the requests reached the app


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_fail(case, app, token):
    case.operation.schema.app = app
    case.operation.schema.location = "/api/v1/openapi.json"
    # A fresh context per request, as a server has (see IsolatedClient in conftest).
    response = contextvars.Context().run(case.call, headers=token, app=app)
    SEEN.add(response.status_code)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body["error"]) == {"code", "message", "fields"}


def test_the_fuzzed_document_is_the_served_one(client):
    assert client.get("/api/v1/openapi.json").get_json() == document()


def test_the_fuzzer_reached_the_app():
    """Runs after the fuzz test (file order): it saw successes and refusals."""
    assert {200, 404, 422} <= SEEN, SEEN
