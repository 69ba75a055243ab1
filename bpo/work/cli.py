"""``flask tasks import|export``: CSV batches from the command line."""

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from bpo.core.actors import Actor
from bpo.core.errors import AppError, flatten_fields
from bpo.core.uow import unit_of_work
from bpo.identity.services import tenant_by_slug
from bpo.work import csvio


def _tenant(slug: str) -> str:
    try:
        with unit_of_work() as uow:
            return tenant_by_slug(uow.session, slug).slug
    except AppError as exc:
        raise click.BadParameter(exc.message, param_hint="--tenant") from None


@click.group("tasks")
def tasks_cli() -> None:
    """Tasks: CSV import and export."""


@tasks_cli.command("import")
@click.option("--tenant", "slug", required=True, help="The tenant the tasks are for.")
@click.option(
    "--template",
    type=click.Choice(sorted(csvio.TEMPLATES)),
    required=True,
    help="What the rows are.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_(slug: str, template: str, file: Path) -> None:
    """Check FILE whole, then create its tasks; any bad row writes nothing."""
    slug = _tenant(slug)
    kind = csvio.TEMPLATES[template]
    with file.open("rb") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    try:
        with unit_of_work(slug) as uow:
            with click.progressbar(length=total, label="checking ", file=sys.stderr) as bar:
                report = csvio.check_file(uow, file, kind, progress=bar.update)
            if not report.ok:
                for problem in report.problems:
                    where = f"line {problem.line}" if problem.line else "file"
                    column = f" {problem.column}" if problem.column else ""
                    click.echo(f"{where}{column}: {problem.message}", err=True)
                raise report.error()
            with click.progressbar(length=report.tasks, label="importing", file=sys.stderr) as bar:
                counts = csvio.import_after_check(
                    uow, file, kind, Actor("system:cli", "command line"), progress=bar.update
                )
    except AppError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    click.echo(
        f"{counts.created} task(s) created, {counts.existing} already there (same reference)"
    )


@tasks_cli.command("export")
@click.option("--tenant", "slug", required=True)
@click.option("--status", multiple=True, help="Only tasks in this status (repeatable).")
@click.option("--kind", type=click.Choice(["data_entry", "accounting", "support"]))
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-")
@with_appcontext
def export(slug: str, status: tuple[str, ...], kind: str | None, output) -> None:
    """Write the tenant's tasks as CSV (formula-like cells escaped)."""
    from bpo.work.services import parse_filters

    slug = _tenant(slug)
    raw: dict[str, object] = {"status": list(status)} if status else {}
    if kind:
        raw["kind"] = kind
    try:
        with unit_of_work(slug) as uow:
            count = csvio.export_tasks(uow, parse_filters(raw), output)
    except AppError as exc:
        click.echo(f"error: {exc.message}", err=True)
        for name, messages in flatten_fields(exc.fields or {}).items():
            click.echo(f"  --{name.split('.')[0]}: {'; '.join(messages)}", err=True)
        sys.exit(2)
    click.echo(f"{count} task(s) exported", err=True)
