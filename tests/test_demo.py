"""The demo work that `make run` seeds: every type, valid, once."""

import pytest
from sqlalchemy import func, select

from bpo.core.actors import Actor
from bpo.core.uow import unit_of_work
from bpo.demo_work import BOOKS, seed_work
from bpo.work import index
from bpo.work.models import DataEntryForm, Task, WorkItem
from bpo.work.types import TYPES
from tenants.provisioning import provision
from tests.support.helpers import unique

CLIENT = Actor("client:1", "Demo client")


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_each_demo_book_seeds_valid_work_of_every_type_once(engine, world, book):
    slug = unique("demo")
    provision(engine, slug, f"Demo {book}")
    created = seed_work(slug, CLIENT, book=BOOKS[book])

    with unit_of_work(slug) as uow:
        tasks = list(uow.session.scalars(select(Task)))
        assert len(tasks) == created >= 10
        assert {t.type for t in tasks} == set(TYPES)
        assert uow.session.scalar(select(DataEntryForm.key)) == BOOKS[book].form["key"]
        flagged = [t for t in tasks if any(f["code"] == "possible_duplicate" for f in t.flags)]
        assert len(flagged) == 1 and flagged[0].type == "accounting.invoice"
        tenant_id = index.tenant_id(uow)
    with unit_of_work() as shared:
        indexed = shared.session.scalar(
            select(func.count()).select_from(WorkItem).where(WorkItem.tenant_id == tenant_id)
        )
    assert indexed == created  # every task is in the work index, ready for routing

    assert seed_work(slug, CLIENT, book=BOOKS[book]) == 0  # a tenant with work is left alone
    with unit_of_work(slug) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Task)) == created


def test_demo_agent_profiles_are_valid_and_distinct():
    from bpo.demo import PROFILES, STAFF
    from bpo.workforce.services import PROFILE_ARGS
    from bpo.workforce.shifts import parse_all

    agents = {email for email, _n, role, _tz, _s in STAFF if role.value == "agent"}
    assert set(PROFILES) == agents
    for profile in PROFILES.values():
        assert PROFILE_ARGS.validate(profile) == {}
        assert parse_all(profile["shifts"])
    assert len({tuple(sorted(p["skills"].items())) for p in PROFILES.values()}) == len(PROFILES)
