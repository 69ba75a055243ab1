"""``flask tenants …`` as an operator types it."""

from sqlalchemy import select, text

from tenants.models import Tenant, TenantStatus
from tests.support.helpers import unique


def test_tenants_lifecycle_through_the_cli(app, engine, world):
    runner = app.test_cli_runner()
    slug = unique("cli")
    created = runner.invoke(
        args=["tenants", "create", slug, "--name", "CLI Co", "--timezone", "Europe/Paris"]
    )
    assert created.exit_code == 0, created.output
    assert f"created tenant {slug}" in created.output
    again = runner.invoke(args=["tenants", "create", slug])
    assert again.exit_code == 0 and "already exists" in again.output

    listing = runner.invoke(args=["tenants", "list"])
    assert slug in listing.output and "CLI Co" in listing.output

    assert runner.invoke(args=["tenants", "suspend", slug]).exit_code == 0
    with engine.connect() as c:
        assert (
            c.execute(select(Tenant.status).where(Tenant.slug == slug)).scalar()
            == TenantStatus.SUSPENDED
        )
    assert runner.invoke(args=["tenants", "resume", slug]).exit_code == 0

    migrated = runner.invoke(args=["tenants", "migrate"])
    assert migrated.exit_code == 0 and "0 migrated" in migrated.output

    dropped = runner.invoke(args=["tenants", "drop", slug, "--yes"])
    assert dropped.exit_code == 0
    with engine.connect() as c:
        assert (
            c.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :n"), {"n": f"tenant_{slug}"}
            ).first()
            is None
        )


def test_bad_slugs_get_a_clear_error_and_no_schema(app, engine, world):
    runner = app.test_cli_runner()
    for slug in ("Robert'); DROP", "pg_x", "public", "a" * 41, "Upper"):
        result = runner.invoke(args=["tenants", "create", slug])
        assert result.exit_code == 2
        assert "invalid tenant slug" in result.output
    with engine.connect() as c:
        names = set(c.execute(text("SELECT nspname FROM pg_namespace")).scalars())
    assert not any("drop" in n.lower() or n == "tenant_pg_x" for n in names)


def test_unknown_tenant_commands_fail_clearly(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tenants", "suspend", "nosuchtenant"])
    assert result.exit_code == 2 and "no tenant" in result.output


def test_tokens_create_prints_a_working_token_once(app, client, world):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["tokens", "create", "--tenant", world.alpha, "--name", "erp", "--days", "7"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    assert secret.startswith("bpo_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["tenant"]["slug"] == world.alpha
    both = runner.invoke(
        args=[
            "tokens",
            "create",
            "--tenant",
            world.alpha,
            "--staff",
            world.admin_email,
            "--name",
            "x",
        ]
    )
    assert both.exit_code == 2


def test_tokens_list_and_revoke(app, client, world):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["tokens", "create", "--tenant", world.beta, "--name", "to-revoke"]
    )
    secret = created.stdout.strip().splitlines()[0]
    listing = runner.invoke(args=["tokens", "list", "--tenant", world.beta])
    assert secret[:12] in listing.output and secret not in listing.output
    line = next(row for row in listing.output.splitlines() if secret[:12] in row)
    assert "active" in line
    token_id = line.split()[0]
    assert runner.invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list", "--tenant", world.beta]).output
