"""The batch endpoint's shortcuts answer exactly as the schemas they stand in for."""

import gc
import json
from datetime import UTC, datetime

import pytest
from flask import Flask

from bpo.api.v1.tasks import _plain_batch, batch_result, collector_paused
from bpo.work.models import Task
from bpo.work.schemas import BatchArgs, BatchResultSchema
from bpo.work.services import BatchResult, NewTask
from bpo.work.states import Kind, Priority, Status
from tests.api.test_api_auth import assert_envelope, bearer, issue
from tests.support.factories import ensure_form, ticket_task

PLAIN = [
    {"tasks": [ticket_task()]},
    {"tasks": [{}]},
    {"tasks": [{"anything": [1, 2]}] * 50_000},
]
NOT_PLAIN = [
    {},
    {"tasks": []},
    {"tasks": {}},
    {"tasks": None},
    {"tasks": "x"},
    {"rows": []},
    {"tasks": [ticket_task()], "rows": []},
    {"tasks": [ticket_task(), "not an object"]},
    {"tasks": [ticket_task(), None]},
    {"tasks": [ticket_task(), [1]]},
    {"tasks": [{}] * 50_001},
]


def _plain(body: dict) -> bool:
    app = Flask(__name__)
    with app.test_request_context(data=json.dumps(body), content_type="application/json"):
        return _plain_batch(body)


@pytest.mark.parametrize("body", PLAIN, ids=range(len(PLAIN)))
def test_plain_batches_are_those_the_schema_accepts(body):
    assert BatchArgs().validate(body) == {}
    assert _plain(body)


@pytest.mark.parametrize("body", NOT_PLAIN, ids=range(len(NOT_PLAIN)))
def test_anything_else_is_left_to_the_schema(body):
    assert BatchArgs().validate(body) != {}
    assert not _plain(body)


def test_a_batch_holding_a_nul_character_is_never_plain():
    body = {"tasks": [ticket_task(title="a\x00b")]}
    assert BatchArgs().validate(body) == {}
    assert not _plain(body)


def test_the_shortcut_knows_every_rule_of_the_schema():
    # A rule added to BatchArgs must be added to _plain_batch too.
    schema = BatchArgs()
    assert list(schema.fields) == ["tasks"]
    assert type(schema.fields["tasks"].inner).__name__ == "Dict"
    assert [type(v).__name__ for v in schema.fields["tasks"].validators] == ["Length"]


def test_the_result_is_what_the_schema_dumps():
    now = datetime.now(UTC)
    created = [
        NewTask(
            id=i,
            kind=Kind.SUPPORT,
            type="support.ticket",
            title="t",
            priority=Priority.NORMAL,
            status=Status.NEW,
            external_ref=ref,
            payload={},
            flags=[],
            dedupe_key=None,
            requester="client:1",
            defer_until=None,
            created_at=now,
            updated_at=now,
        )
        for i, ref in ((7, "R-7"), (8, None))
    ]
    existing = [Task(id=3, external_ref="R-3", status=Status.QUEUED)]
    for result in (
        BatchResult(created=created, existing=existing),
        BatchResult(created=[], existing=existing),
        BatchResult(created=created, existing=[]),
    ):
        body = {
            "created": len(result.created),
            "existing": len(result.existing),
            "items": result.created + result.existing,
        }
        assert batch_result(result) == BatchResultSchema().dump(body)


def test_the_collector_is_paused_only_during_a_batch():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # paused by someone else: left paused
    finally:
        gc.enable()


def test_the_collector_runs_again_after_batch_requests(client, world):
    ensure_form(world.alpha)
    alpha = bearer(issue(world.alpha, user_email=world.client_alpha_email)[0])
    response = client.post("/api/v1/tasks/batch", json={"tasks": [ticket_task()]}, headers=alpha)
    assert response.status_code == 201 and gc.isenabled()
    bad = client.post("/api/v1/tasks/batch", json={"tasks": [{}]}, headers=alpha)
    assert_envelope(bad, 422, "validation")
    assert gc.isenabled()
