"""Binding: unscoped SQL fails, sessions stay in their tenant, nothing leaks on the pool."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from bpo.core.uow import unit_of_work
from bpo.identity.models import ClientUser
from tenants.binding import make_session, raw_tenant_sql


def test_unscoped_orm_query_on_a_tenant_table_fails(app, world):
    with (
        unit_of_work() as uow,
        pytest.raises(ProgrammingError, match=r'"tenant\.client_users" does not exist'),
    ):
        uow.session.scalars(select(ClientUser)).all()


def test_unscoped_raw_sql_fails(engine, world):
    with engine.connect() as c, pytest.raises(ProgrammingError):
        c.execute(text("SELECT * FROM client_users")).all()


def test_each_tenant_session_sees_only_its_own_rows(app, world):
    with unit_of_work(world.alpha) as a:
        alpha_emails = set(a.session.scalars(select(ClientUser.email)))
    with unit_of_work(world.beta) as b:
        beta_emails = set(b.session.scalars(select(ClientUser.email)))
    assert world.client_alpha_email in alpha_emails and world.client_alpha_email not in beta_emails
    assert world.client_beta_email in beta_emails and world.client_beta_email not in alpha_emails


def test_binding_survives_commit(engine, world):
    """Execution options live on the bind, so they outlast commit (SQLAlchemy #10322)."""
    session = make_session(engine, world.beta)
    try:
        assert world.client_beta_email in set(session.scalars(select(ClientUser.email)))
        session.commit()
        assert world.client_beta_email in set(session.scalars(select(ClientUser.email)))
    finally:
        session.close()


def test_set_local_search_path_does_not_outlive_its_transaction(engine, world):
    with raw_tenant_sql(engine, world.alpha) as c:
        assert c.execute(text("SELECT count(*) FROM client_users")).scalar() >= 1
    # The same pooled connection, next transaction: the placeholder-free table is gone.
    for _ in range(engine.pool.size() + 1):
        with engine.connect() as c:
            assert c.execute(text("SHOW search_path")).scalar() == '"$user", public'
            with pytest.raises(ProgrammingError):
                c.execute(text("SELECT 1 FROM client_users")).all()


def test_a_request_unit_of_work_refuses_a_second_tenant(app, world):
    from bpo.core.uow import bind_request_tenant, request_uow

    with app.test_request_context("/"):
        bind_request_tenant(world.alpha)
        assert request_uow().tenant == world.alpha
        with pytest.raises(RuntimeError, match="already bound"):
            bind_request_tenant(world.beta)
