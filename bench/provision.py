"""Benchmark: tenant provisioning against bare DDL, and a no-op tenant migration.

What is measured against what, and why:

* **Platform**: ``tenants.provisioning.provision()`` for 200 tenants (``bench_0000``...).
  Each call is one transaction: advisory lock, registry checks, the ``bpo.tenants``
  row, ``CREATE SCHEMA``, the tenant tables' DDL (compiled once per process) and
  the Alembic stamp.
* **Bare DDL**: for 200 other schemas (``bare_0000``...), one transaction each with
  ``CREATE SCHEMA`` plus the same ``CREATE TABLE``/``CREATE INDEX`` statements,
  compiled once from ``TenantModel.metadata`` and sent with ``exec_driver_sql``.
  This is the floor that PostgreSQL itself imposes for the same catalog work, so
  ``provision_x = platform / bare`` is the overhead the platform adds on top of it.
  The issue's goal is ``provision_x <= 2``.
* **No-op migrate**: ``migrate_tenants()`` once all 200 tenants are at head, which
  should be a single query. The goal is under 10 s for 200 tenants.

Both sides use the same engine and connection pool. Both are warmed up with a few
tenants that are not counted (and are removed before measuring), then run in
alternating blocks of 20 whose order flips every round (ABBA...), so neither side
systematically profits from cache warmth, autovacuum or checkpoint timing.

The database is ``BPO_BENCH_DATABASE_URL`` if set: a fresh database
``bpo_bench_<random>`` is created on that server and dropped afterwards, so no
other data is touched. Otherwise embedded servers are started in a temporary
directory and deleted afterwards. The last line printed is::

    RESULT provision_x=<platform/bare> noop_migrate_200_s=<seconds>

The script exits 0 whether or not the goals are met; it is a measurement.
"""

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from _common import database_url
from sqlalchemy import Engine, create_engine
from sqlalchemy.schema import CreateIndex, CreateTable

import bpo.models  # noqa: F401  (completes TenantModel.metadata)
from tenants.db import TENANT_PLACEHOLDER, TenantModel
from tenants.migrations.runner import migrate_shared, migrate_tenants
from tenants.provisioning import drop, provision

TENANTS = 200
BLOCK = 20
WARMUP = 5
GOAL_PROVISION_X = 2.0
GOAL_NOOP_MIGRATE_S = 10.0
# How a schema-translated name renders in compiled DDL before execution fills it in.
SCHEMA_TOKEN = f"__[SCHEMA_{TENANT_PLACEHOLDER}]"


# --- the two sides ------------------------------------------------------------------


def bare_ddl(engine: Engine) -> list[str]:
    """The tenant tables' CREATE TABLE/INDEX statements with a schema token to fill in."""
    statements = []
    for table in TenantModel.metadata.sorted_tables:
        statements.append(CreateTable(table))
        statements.extend(CreateIndex(index) for index in table.indexes)
    translate = {TENANT_PLACEHOLDER: TENANT_PLACEHOLDER}
    compiled = [
        str(s.compile(dialect=engine.dialect, schema_translate_map=translate)) for s in statements
    ]
    assert all(SCHEMA_TOKEN in sql for sql in compiled), "unexpected schema rendering"
    return compiled


def create_bare(engine: Engine, schema: str, ddl: list[str]) -> None:
    """One transaction: the schema and the tenant tables in it, nothing else."""
    quoted = engine.dialect.identifier_preparer.quote_identifier(schema)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {quoted}")
        for sql in ddl:
            connection.exec_driver_sql(sql.replace(SCHEMA_TOKEN, quoted))


def drop_bare(engine: Engine, schema: str) -> None:
    quoted = engine.dialect.identifier_preparer.quote_identifier(schema)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {quoted} CASCADE")


def create_platform(engine: Engine, slug: str) -> None:
    created = provision(engine, slug).created
    assert created, f"tenant {slug} already existed"


# --- measurement --------------------------------------------------------------------


@dataclass
class Side:
    """One side of the comparison: how to create item ``i`` and what it took."""

    label: str
    create: Callable[[int], None]
    seconds: list[float] = field(default_factory=list)

    def run(self, indices: range) -> None:
        for i in indices:
            start = time.perf_counter()
            self.create(i)
            self.seconds.append(time.perf_counter() - start)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def warm_up(engine: Engine, ddl: list[str]) -> None:
    """Exercise both paths (imports, pool, plan caches) with uncounted, removed items."""
    for i in range(WARMUP):
        create_platform(engine, f"warm_{i:04d}")
        create_bare(engine, f"warmbare_{i:04d}", ddl)
    for i in range(WARMUP):
        drop(engine, f"warm_{i:04d}")
        drop_bare(engine, f"warmbare_{i:04d}")


def alternate(platform: Side, bare: Side) -> None:
    """Blocks of ``BLOCK`` per side, the leading side flipping every round."""
    for round_no, start in enumerate(range(0, TENANTS, BLOCK)):
        block = range(start, min(start + BLOCK, TENANTS))
        first, second = (platform, bare) if round_no % 2 == 0 else (bare, platform)
        first.run(block)
        second.run(block)


def time_noop_migrate(engine: Engine) -> float:
    start = time.perf_counter()
    report = migrate_tenants(engine)
    elapsed = time.perf_counter() - start
    assert report.ok, f"migration failures: {report.failed}"
    assert not report.migrated, f"no-op run migrated {len(report.migrated)} tenants"
    assert report.up_to_date == TENANTS, f"up_to_date={report.up_to_date}, want {TENANTS}"
    return elapsed


@dataclass(frozen=True)
class Result:
    platform: Side
    bare: Side
    noop_migrate_s: float

    @property
    def provision_x(self) -> float:
        return self.platform.mean / self.bare.mean

    def block_ratios(self) -> list[float]:
        """platform/bare per round of ``BLOCK`` tenants: the spread shows the noise."""
        p, b = self.platform.seconds, self.bare.seconds
        return [sum(p[i : i + BLOCK]) / sum(b[i : i + BLOCK]) for i in range(0, len(p), BLOCK)]


def measure(engine: Engine) -> Result:
    migrate_shared(engine)
    ddl = bare_ddl(engine)
    warm_up(engine, ddl)
    platform = Side("platform provision()", lambda i: create_platform(engine, f"bench_{i:04d}"))
    bare = Side("bare DDL", lambda i: create_bare(engine, f"bare_{i:04d}", ddl))
    alternate(platform, bare)
    return Result(platform, bare, time_noop_migrate(engine))


def report(result: Result) -> None:
    for side in (result.platform, result.bare):
        print(
            f"{side.label:<22} n={len(side.seconds)}  total {sum(side.seconds):7.3f} s"
            f"  mean {side.mean * 1000:7.2f} ms/tenant  median {side.median * 1000:7.2f} ms"
        )
    x = result.provision_x
    ok_x = "met" if x <= GOAL_PROVISION_X else "NOT met"
    ok_m = "met" if result.noop_migrate_s < GOAL_NOOP_MIGRATE_S else "NOT met"
    print(f"provision_x (platform/bare, mean) = {x:.2f}  goal <= {GOAL_PROVISION_X}: {ok_x}")
    ratios = sorted(result.block_ratios())
    print(
        f"  per-block ratios: min {ratios[0]:.2f}  median {statistics.median(ratios):.2f}"
        f"  max {ratios[-1]:.2f}  ({len(ratios)} blocks of {BLOCK})"
    )
    print(
        f"no-op migrate_tenants of {TENANTS} tenants = {result.noop_migrate_s:.3f} s"
        f"  goal < {GOAL_NOOP_MIGRATE_S:g} s: {ok_m}"
    )


def main() -> None:
    with database_url() as url:
        engine = create_engine(url)
        try:
            result = measure(engine)
        finally:
            engine.dispose()
    # After cleanup, so nothing the servers print on shutdown follows the RESULT line.
    report(result)
    x, noop = result.provision_x, result.noop_migrate_s
    print(f"RESULT provision_x={x:.2f} noop_migrate_200_s={noop:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
