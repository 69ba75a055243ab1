"""An agent never sees or acts on work that is not theirs: every page and action 404s.

Three agents: "mine" and "colleague" serve tenant A, "stranger" serves tenant B
only. Each holds one task. Agent "mine" probes the others' tasks through every
page and action, with ids forced from the other tenant too, and nothing changes.
"""

import io

import pytest

from bpo.core.actors import SYSTEM
from bpo.core.uow import unit_of_work
from bpo.routing.rules import Presence
from bpo.work import attachments
from bpo.workforce.services import set_presence
from tests.support.agents import make_agent, new_tenant, staff
from tests.support.factories import ticket_task
from tests.support.helpers import csrf_token, ids_out_of_reach
from tests.web.test_agent_desk import item_of, new_task, sign_in, task_of, url

ACTIONS = {
    "start": {},
    "hand-in": {"resolution": "done"},
    "reply": {"body": "hello"},
    "ask": {"question": "which one?"},
    "decline": {"reason": "not mine"},
}


@pytest.fixture
def setting(client):
    a, b = new_tenant("isoa"), new_tenant("isob")
    ids_out_of_reach(a, b)  # A's ids are far above B's: a B id probed in A hits nothing
    mine = make_agent([a], name="Mine")
    colleague = make_agent([a], presence=Presence.OFFLINE)
    stranger = make_agent([b])
    my_task = new_task(a, ticket_task(title="My own ticket"))
    with unit_of_work(a) as uow:
        attachment = attachments.store(
            uow, io.BytesIO(b"scan"), "scan.txt", SYSTEM, task_id=my_task
        ).id
    # The colleague goes online only now, so the routing gives them the next task.
    with unit_of_work() as uow:
        set_presence(uow.session, staff(uow.session, mine), Presence.OFFLINE)
        set_presence(uow.session, staff(uow.session, colleague), Presence.ONLINE)
    theirs = new_task(a, ticket_task(title="Colleague ticket"))
    with unit_of_work() as uow:
        set_presence(uow.session, staff(uow.session, mine), Presence.ONLINE)
    foreign = new_task(b, ticket_task(title="Foreign ticket"))
    assert item_of(a, my_task).assignee_id == mine
    assert item_of(a, theirs).assignee_id == colleague
    assert item_of(b, foreign).assignee_id == stranger
    sign_in(client, mine)
    return {
        "a": a,
        "b": b,
        "mine": my_task,
        "theirs": theirs,
        "foreign": foreign,
        "attachment": attachment,
    }


def _probes(s):
    """(tenant, task id) pairs agent "mine" must not reach."""
    return [
        (s["a"], s["theirs"]),  # a colleague's task of a tenant they serve
        (s["b"], s["foreign"]),  # a task of a tenant they do not serve
        (s["a"], s["foreign"]),  # another tenant's id forced into their own tenant
        (s["b"], s["mine"]),  # their own id under a tenant they do not serve
        ("nosuch_tenant", s["mine"]),  # no such tenant
    ]


def _snapshot(s):
    return {
        key: (task_of(tenant, s[key]).status, len(task_of(tenant, s[key]).messages))
        for key, tenant in (("mine", s["a"]), ("theirs", s["a"]), ("foreign", s["b"]))
    }


def test_every_page_and_action_is_404_on_work_not_theirs(client, setting):
    s = setting
    before = _snapshot(s)
    token = csrf_token(client, "/agent/queue")
    for tenant, task_id in _probes(s):
        assert client.get(url(tenant, task_id)).status_code == 404, (tenant, task_id)
        download = url(tenant, task_id, f"attachments/{s['attachment']}")
        assert client.get(download).status_code == 404, download
        for action, data in ACTIONS.items():
            answer = client.post(url(tenant, task_id, action), data={"csrf_token": token, **data})
            assert answer.status_code == 404, (tenant, task_id, action, answer.status_code)
    assert _snapshot(s) == before


def test_bad_input_on_work_not_theirs_is_still_404(client, setting):
    """Validation never answers first: a 400 would tell them the task exists."""
    s = setting
    token = csrf_token(client, "/agent/queue")
    for action in ("decline", "reply", "ask", "hand-in"):
        answer = client.post(url(s["a"], s["theirs"], action), data={"csrf_token": token})
        assert answer.status_code == 404, action


def test_their_own_task_and_file_are_reachable(client, setting):
    s = setting
    page = client.get(url(s["a"], s["mine"]))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="lease"' in html  # assigned, not started: the lease counts down
    assert f"attachments/{s['attachment']}" in html and "scan.txt" in html
    download = client.get(url(s["a"], s["mine"], f"attachments/{s['attachment']}"))
    assert download.status_code == 200 and download.data == b"scan"
    assert "attachment" in download.headers["Content-Disposition"]


def test_the_queue_shows_only_their_tasks(client, setting):
    page = client.get("/agent/queue").get_data(as_text=True)
    assert "My own ticket" in page
    assert "Colleague ticket" not in page and "Foreign ticket" not in page


def test_a_slug_that_is_not_a_slug_is_404(client, setting):
    assert client.get("/agent/t/Not-A-Slug!/tasks/1").status_code == 404
