"""Alembic trees: ``shared`` (schema ``bpo``) and ``tenant`` (every tenant schema)."""

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).parent
TREES = ("shared", "tenant")


def alembic_config(tree: str) -> Config:
    """An Alembic configuration for ``tree``; the connection is passed in attributes."""
    if tree not in TREES:
        raise ValueError(f"unknown migration tree {tree!r}")
    config = Config()
    config.set_main_option("script_location", str(HERE / tree))
    config.set_main_option("version_locations", str(HERE / tree / "versions"))
    config.set_main_option("path_separator", "os")
    return config


def head_revision(tree: str) -> str:
    """The single head revision of ``tree``."""
    head = ScriptDirectory.from_config(alembic_config(tree)).get_current_head()
    if head is None:
        raise RuntimeError(f"migration tree {tree!r} has no revisions")
    return head


def tenant_schema() -> str:
    """Inside a tenant-tree revision: the tenant's schema (the runner set the search
    path to it), quoted, for the ``{schema}`` of a tenant function's source."""
    from alembic import op

    return str(op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar())
