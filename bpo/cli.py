"""The ``bpo`` command (and the app's ``flask`` commands).

``bpo up`` starts the whole platform; every other ``bpo`` subcommand is the same
as ``flask <subcommand>``: ``bpo tenants list`` == ``flask tenants list``.
"""

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from bpo.core.errors import AppError
from bpo.core.uow import unit_of_work
from bpo.identity import services
from bpo.identity.models import ClientRole, MembershipRole, StaffRole, StaffUser
from tenants.db import utcnow


def _create_app() -> Flask:
    from bpo import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """BPO operations platform."""


@main.command("up", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int)
@click.option("--no-demo", is_flag=True, help="Do not seed demo data.")
def up(host: str, port: int, web_workers: int, no_demo: bool) -> None:
    """Start PostgreSQL, Redis, web, workers and scheduler; Ctrl-C stops them all."""
    from bpo.launcher import run_platform

    sys.exit(run_platform(host=host, port=port, web_workers=web_workers, demo=not no_demo))


def _fail(exc: AppError) -> None:
    fields = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.fields.items())
    click.echo(f"error: {exc.message}" + (f" ({fields})" if fields else ""), err=True)
    sys.exit(2)


@click.group("staff")
def staff_cli() -> None:
    """Provider staff: create and grant tenants."""


@staff_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True)
@click.password_option()
@with_appcontext
def staff_create(email: str, name: str, role: str, password: str) -> None:
    """Create a staff member."""
    try:
        with unit_of_work() as uow:
            user = services.create_staff(
                uow.session, email=email, name=name, role=StaffRole(role), password=password
            )
    except AppError as exc:
        _fail(exc)
    click.echo(f"created {user.role.value} {user.email}")


@staff_cli.command("grant")
@click.argument("email")
@click.argument("tenant")
@click.option(
    "--role",
    type=click.Choice([r.value for r in MembershipRole]),
    default="agent",
    show_default=True,
)
@with_appcontext
def staff_grant(email: str, tenant: str, role: str) -> None:
    """Let staff member EMAIL serve TENANT."""
    try:
        with unit_of_work() as uow:
            staff = uow.session.scalar(select(StaffUser).where(StaffUser.email == email.lower()))
            if staff is None:
                raise AppError(f"no staff member {email}", fields={"email": ["unknown"]})
            services.grant(
                uow.session,
                staff,
                services.tenant_by_slug(uow.session, tenant),
                MembershipRole(role),
            )
    except AppError as exc:
        _fail(exc)
    click.echo(f"{email} serves {tenant} as {role}")


@click.group("clients")
def clients_cli() -> None:
    """Client users of a tenant."""


@clients_cli.command("create")
@click.argument("tenant")
@click.argument("email")
@click.option("--name", required=True)
@click.option(
    "--role",
    type=click.Choice([r.value for r in ClientRole]),
    default="client_user",
    show_default=True,
)
@click.password_option()
@with_appcontext
def clients_create(tenant: str, email: str, name: str, role: str, password: str) -> None:
    """Create a client user in TENANT."""
    try:
        with unit_of_work() as shared:
            services.tenant_by_slug(shared.session, tenant)
        with unit_of_work(tenant) as uow:
            user = services.create_client(
                uow.session, email=email, name=name, role=ClientRole(role), password=password
            )
    except AppError as exc:
        _fail(exc)
    click.echo(f"created {user.role.value} {user.email} in {tenant}")


@click.group("tokens")
def tokens_cli() -> None:
    """API bearer tokens."""


@tokens_cli.command("create")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--tenant", help="Scope the token to this tenant.")
@click.option("--staff", "staff_email", help="Scope the token to this staff member.")
@click.option("--user", "user_email", help="With --tenant: the client user it acts for.")
@click.option("--days", type=int, help="Days until it expires (default BPO_API_TOKEN_DAYS).")
@with_appcontext
def tokens_create(
    name: str, tenant: str | None, staff_email: str | None, user_email: str | None, days: int | None
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from bpo.identity.models import ClientUser

    if bool(tenant) == bool(staff_email):
        _fail(
            AppError("give exactly one of --tenant and --staff", fields={"tenant": ["or --staff"]})
        )
    try:
        client_user_id = None
        if tenant and user_email:
            with unit_of_work(tenant) as t_uow:
                client_user_id = t_uow.session.scalar(
                    select(ClientUser.id).where(ClientUser.email == user_email.lower())
                )
            if client_user_id is None:
                raise AppError(f"no user {user_email} in {tenant}", fields={"user": ["unknown"]})
        with unit_of_work() as uow:
            staff = None
            if staff_email:
                staff = uow.session.scalar(
                    select(StaffUser).where(StaffUser.email == staff_email.lower())
                )
                if staff is None:
                    raise AppError(f"no staff member {staff_email}", fields={"staff": ["unknown"]})
            issued = services.issue_token(
                uow.session,
                name=name,
                days=days or current_app.config["BPO_API_TOKEN_DAYS"],
                tenant=services.tenant_by_slug(uow.session, tenant) if tenant else None,
                staff=staff,
                client_user_id=client_user_id,
            )
    except AppError as exc:
        _fail(exc)
    click.echo(issued.secret)
    click.echo(f"(expires {issued.token.expires_at:%Y-%m-%d}; it is not shown again)", err=True)


@tokens_cli.command("list")
@click.option("--tenant", help="Only tokens of this tenant.")
@with_appcontext
def tokens_list(tenant: str | None) -> None:
    """List tokens (never their secrets)."""
    from bpo.identity.models import ApiToken

    with unit_of_work() as uow:
        query = select(ApiToken).order_by(ApiToken.id)
        if tenant:
            query = query.where(
                ApiToken.tenant_id == services.tenant_by_slug(uow.session, tenant).id
            )
        tokens = uow.session.scalars(query).all()
    click.echo(
        f"{'id':>5} {'prefix':<13} {'scope':<7} {'owner':<28} {'expires':<11} {'state':<8} name"
    )
    for t in tokens:
        owner = t.tenant.slug if t.tenant else (t.staff.email if t.staff else "-")
        state = "revoked" if t.revoked_at else ("expired" if t.expires_at <= utcnow() else "active")
        expires = f"{t.expires_at:%Y-%m-%d}"
        scope = t.scope.value
        click.echo(
            f"{t.id:>5} {t.prefix:<13} {scope:<7} {owner:<28} {expires:<11} {state:<8} {t.name}"
        )


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID at once."""
    from bpo.identity.models import ApiToken

    with unit_of_work() as uow:
        token = uow.session.get(ApiToken, token_id)
        if token is None:
            _fail(AppError(f"no token {token_id}", fields={"token_id": ["unknown"]}))
            return
        token.revoked_at = token.revoked_at or utcnow()
    click.echo(f"revoked token {token_id} ({token.prefix}…)")


@click.group("demo")
def demo_cli() -> None:
    """Demo data."""


@demo_cli.command("seed")
@with_appcontext
def demo_seed() -> None:
    """Seed the demo tenants, staff and client users (once)."""
    from bpo.demo import seed

    click.echo("seeded demo data" if seed() else "demo data already present")


def register_cli(app: Flask) -> None:
    from bpo.sla.cli import sla_cli
    from bpo.work.cli import tasks_cli
    from tenants.cli import db_cli, tenants_cli

    for group in (
        tenants_cli,
        db_cli,
        staff_cli,
        clients_cli,
        tokens_cli,
        demo_cli,
        tasks_cli,
        sla_cli,
    ):
        app.cli.add_command(group)
