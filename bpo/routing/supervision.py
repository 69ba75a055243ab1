"""What a supervisor does with work and agents, as services the supervisor pages call.

Scope first: a supervisor oversees the tenants where they hold a supervisor
membership (an admin oversees every tenant), and sees only agents who serve one of
those tenants. Anything outside that scope is :class:`NotFound`, never Forbidden,
so ids of other tenants look exactly like ids that do not exist.

Every action on work runs in the caller's one transaction for one tenant and moves
tasks through :func:`bpo.work.services.transition_many` (audit event per task).
Each task of a bulk action runs in its own savepoint, so one task that cannot move
leaves the others done and itself untouched. Routing and fill jobs are deferred to
after commit.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bpo.core.actors import Actor
from bpo.core.errors import NotFound
from bpo.core.uow import UnitOfWork
from bpo.identity.models import MembershipRole, StaffMembership, StaffUser
from bpo.identity.services import served_tenants
from bpo.routing import router, rules
from bpo.routing.services import RETURNABLE, NotAssignable, agents, assign_by_hand, give_back
from bpo.work.index import DISPATCH_GRACE
from bpo.work.models import Task, WorkItem
from bpo.work.services import transition_many
from bpo.work.states import Status
from bpo.workforce.services import HOLDING
from tenants.models import Tenant

POOL_LIMIT = 200  # rows per section of the pool page; the rest shows as a count

# -- scope ---------------------------------------------------------------------------


def overseen(session: Session, supervisor: StaffUser) -> list[Tenant]:
    """The tenants ``supervisor`` oversees, by name (every tenant for an admin)."""
    return [
        t for t, role in served_tenants(session, supervisor) if role is MembershipRole.SUPERVISOR
    ]


def overseen_tenant(session: Session, supervisor: StaffUser, slug: str) -> Tenant:
    """The overseen tenant ``slug``; NotFound for any other (existing or not)."""
    for tenant in overseen(session, supervisor):
        if tenant.slug == slug:
            return tenant
    raise NotFound(f"You oversee no client {slug!r}.")


def agent_ids_in_scope(session: Session, tenant_ids: Iterable[int]) -> list[int]:
    """Active staff serving one of ``tenant_ids`` as agents, by name."""
    return list(
        session.scalars(
            select(StaffUser.id)
            .where(
                StaffUser.active,
                StaffUser.id.in_(
                    select(StaffMembership.staff_id).where(
                        StaffMembership.tenant_id.in_(list(tenant_ids)),
                        StaffMembership.role == MembershipRole.AGENT,
                    )
                ),
            )
            .order_by(StaffUser.name, StaffUser.id)
        )
    )


def agent_in_scope(session: Session, supervisor: StaffUser, agent_id: int) -> StaffUser:
    """Agent ``agent_id`` if they serve a tenant ``supervisor`` oversees; else NotFound."""
    tenant_ids = [t.id for t in overseen(session, supervisor)]
    if agent_id not in agent_ids_in_scope(session, tenant_ids):
        raise NotFound("There is no such agent among the clients you oversee.")
    staff = session.get(StaffUser, agent_id)
    assert staff is not None  # in scope means the row exists
    return staff


@dataclass(frozen=True)
class AgentRow:
    """One agent as the supervisor's list shows them."""

    staff: StaffUser
    routing: rules.Agent | None  # None: no profile yet
    tenants: list[Tenant]  # those served that this supervisor oversees

    def load(self, kind: str) -> tuple[int, int]:
        """(units held, capacity) in ``kind``."""
        if self.routing is None:
            return (0, 0)
        return (self.routing.load.get(kind, 0), self.routing.capacity.get(kind, 0))

    def qualified(self, required_skills: list[str], overflow: bool, tenant_id: int) -> bool:
        """Whether a supervisor may hand them this work: the skills at their levels (as
        the claim checks them), or the tenant's overflow group for overflowed work."""
        if self.routing is None:
            return False
        if overflow and tenant_id in self.routing.overflow_tenants:
            return True
        return set(required_skills) <= set(rules.skill_tokens(self.routing.skills))


def agent_rows(
    session: Session, tenants: Sequence[Tenant], now: datetime, *, tenant_id: int | None = None
) -> list[AgentRow]:
    """Agents serving ``tenants`` (only ``tenant_id`` if given): presence, shift, load."""
    ids = agent_ids_in_scope(session, [tenant_id] if tenant_id else [t.id for t in tenants])
    seen = {a.id: a for a in agents(session, ids, now)}
    by_id = {t.id: t for t in tenants}
    served: dict[int, list[Tenant]] = {}
    for staff_id, t_id in session.execute(
        select(StaffMembership.staff_id, StaffMembership.tenant_id).where(
            StaffMembership.staff_id.in_(ids), StaffMembership.role == MembershipRole.AGENT
        )
    ):
        if t_id in by_id:
            served.setdefault(staff_id, []).append(by_id[t_id])
    staff = {s.id: s for s in session.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))}
    return [
        AgentRow(staff[i], seen.get(i), sorted(served.get(i, []), key=lambda t: t.name))
        for i in ids
    ]


# -- memberships -----------------------------------------------------------------------


def set_memberships(
    uow: UnitOfWork,
    agent: StaffUser,
    overseen_tenants: Sequence[Tenant],
    serves: dict[int, bool],
    actor: Actor,
    now: datetime,
) -> list[str]:
    """Make ``agent`` serve, among ``overseen_tenants``, exactly those in ``serves``
    (tenant id -> whether they are in its overflow group). Other tenants are left
    alone. Revoking returns the agent's held, unfinished tasks of that tenant to the
    pool (no attempt counted) and routes them. Returns the slugs revoked."""
    session = uow.session
    current = {
        m.tenant_id: m
        for m in session.scalars(
            select(StaffMembership).where(StaffMembership.staff_id == agent.id)
        )
    }
    revoked = []
    for tenant in overseen_tenants:
        membership = current.get(tenant.id)
        if tenant.id in serves:
            if membership is None:
                membership = StaffMembership(staff=agent, tenant=tenant, role=MembershipRole.AGENT)
                session.add(membership)
            if membership.role is MembershipRole.AGENT:  # never demote a supervisor here
                membership.overflow = serves[tenant.id]
        elif membership is not None and membership.role is MembershipRole.AGENT:
            held = session.scalars(
                select(WorkItem.task_id).where(
                    WorkItem.tenant_id == tenant.id,
                    WorkItem.assignee_id == agent.id,
                    WorkItem.state.in_(RETURNABLE),
                )
            ).all()
            back = give_back(
                session, tenant.id, tenant.slug, held, actor,
                "the agent no longer serves this client", now,
                states=RETURNABLE, agent_id=agent.id, count_attempt=False,
            )  # fmt: skip
            router.defer_route(uow, tenant.slug, back.queued)
            session.delete(membership)
            revoked.append(tenant.slug)
    session.flush()
    return revoked


# -- the pool ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolRow:
    item: WorkItem
    title: str
    assignee: str | None = None


@dataclass
class Pool:
    waiting: list[PoolRow] = field(default_factory=list)
    exceptions: list[PoolRow] = field(default_factory=list)
    assigned: list[PoolRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # section -> total rows


SECTIONS = {
    "waiting": (Status.NEW, Status.QUEUED),
    "exceptions": (Status.EXCEPTION,),
    "assigned": (*HOLDING, Status.IN_REVIEW),
}


def pool(uow: UnitOfWork, tenant: Tenant) -> Pool:
    """The tenant's open work in three sections, most urgent first.

    ``uow`` is bound to ``tenant``: the work index gives the rows, the tenant's own
    schema their titles (client content never enters the index).
    """
    session, result = uow.session, Pool()
    for section, states in SECTIONS.items():
        where = (WorkItem.tenant_id == tenant.id, WorkItem.state.in_(states))
        items = session.scalars(
            select(WorkItem)
            .where(*where)
            .order_by(
                WorkItem.sla_due_at.asc().nulls_last(),
                WorkItem.priority_rank.desc(),
                WorkItem.created_at,
                WorkItem.task_id,
            )
            .limit(POOL_LIMIT)
        ).all()
        result.counts[section] = len(items)
        if len(items) == POOL_LIMIT:
            result.counts[section] = (
                session.scalar(select(func.count()).select_from(WorkItem).where(*where)) or 0
            )
        held_by = {i.assignee_id for i in items if i.assignee_id is not None}
        names = dict(
            session.execute(
                select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(held_by))
            ).all()
        )
        titles = dict(
            session.execute(
                select(Task.id, Task.title).where(Task.id.in_([i.task_id for i in items]))
            ).all()
        )
        rows = [
            PoolRow(
                i, titles.get(i.task_id, ""), names.get(i.assignee_id) if i.assignee_id else None
            )
            for i in items
        ]
        setattr(result, section, rows)
    return result


@dataclass(frozen=True)
class WhyWaiting:
    """Why a pool task has gone to nobody: the agents serving its tenant who may take
    it now (routing offers it at its next pass), and why each other one may not."""

    may: list[str]  # agents' names
    refused: list[tuple[str, list[str]]]  # (reason, agents' names), largest group first


def why_waiting(item: WorkItem, agents: Sequence[AgentRow]) -> WhyWaiting:
    """The routing rules' own verdict (:func:`rules.refusal`) for each of ``agents``
    (the tenant's, from :func:`agent_rows`) on pool task ``item``."""
    work = router.work_of(item)
    may: list[str] = []
    refused: dict[str, list[str]] = {}
    for row in sorted(agents, key=lambda r: r.staff.name):
        reason = "has no agent profile" if row.routing is None else rules.refusal(row.routing, work)
        if reason is None:
            may.append(row.staff.name)
        else:
            refused.setdefault(reason, []).append(row.staff.name)
    return WhyWaiting(may, sorted(refused.items(), key=lambda group: (-len(group[1]), group[0])))


def _require_tasks(
    session: Session, tenant: Tenant, task_ids: Sequence[int]
) -> dict[int, WorkItem]:
    """The index rows of ``task_ids``; NotFound if one is not this tenant's open work.

    Not locked: every move below is a conditional update, and the claim locks the
    agent's profile before the index row, an order this must not reverse.
    """
    items = {
        i.task_id: i
        for i in session.scalars(
            select(WorkItem).where(
                WorkItem.tenant_id == tenant.id, WorkItem.task_id.in_(list(task_ids))
            )
        )
    }
    missing = [i for i in task_ids if i not in items]
    if missing or not task_ids:
        raise NotFound(f"No open task {missing[0] if missing else ''} for this client.")
    return items


def _require_agent(session: Session, tenant: Tenant, agent_id: int) -> None:
    if agent_id not in agent_ids_in_scope(session, [tenant.id]):
        raise NotFound("No such agent serves this client.")


# -- actions ------------------------------------------------------------------------


def assign(
    uow: UnitOfWork, tenant: Tenant, task_id: int, agent_id: int, actor: Actor, now: datetime
) -> bool:
    """Assign pool task ``task_id`` to ``agent_id`` by hand; returns whether it went
    beyond the agent's capacity (flagged on the index row). NotAssignable says why
    not, with nothing written."""
    _require_tasks(uow.session, tenant, [task_id])
    _require_agent(uow.session, tenant, agent_id)
    with uow.session.begin_nested():
        claimed = assign_by_hand(uow.session, agent_id, tenant.id, task_id, actor, now)
    return claimed.over_capacity


@dataclass
class Reassigned:
    moved: list[int] = field(default_factory=list)
    over_capacity: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # task id -> why not


def reassign(
    uow: UnitOfWork,
    tenant: Tenant,
    task_ids: Sequence[int],
    to_agent: int | None,
    actor: Actor,
    now: datetime,
) -> Reassigned:
    """Move tasks of ``tenant`` to ``to_agent`` or, for None, back to the pool.

    Held tasks (assigned, in progress, rejected) are given back first without an
    attempt counted, then assigned by hand; pool tasks are just assigned. A task sent
    back to the pool is not routed to its previous holder again (as after a decline).
    A task that cannot move to ``to_agent`` stays where it was and is reported in
    ``refused``. The previous holders are refilled after commit.
    """
    session, result = uow.session, Reassigned()
    items = _require_tasks(session, tenant, task_ids)
    if to_agent is not None:
        _require_agent(session, tenant, to_agent)
    holders: dict[int, set[str]] = {}
    requeued: dict[str, list[int]] = {}
    for task_id in sorted(set(task_ids)):
        item = items[task_id]
        if item.state not in (*RETURNABLE, Status.QUEUED):
            result.refused[task_id] = f"it is {item.state.label}"
            continue
        if to_agent is not None and item.assignee_id == to_agent:
            result.refused[task_id] = "this agent holds it already"
            continue
        holder, kind = item.assignee_id, item.kind.value
        try:
            with session.begin_nested():
                if item.state is not Status.QUEUED:
                    # Back to the pool: routing must not hand it straight back to the
                    # agent it was taken from (they have the most room now); the
                    # supervisor may still give it to them by hand.
                    give_back(
                        session, tenant.id, tenant.slug, [task_id], actor,
                        "reassigned by a supervisor", now,
                        states=RETURNABLE, count_attempt=False, decline=to_agent is None,
                    )  # fmt: skip
                if to_agent is not None:
                    claimed = assign_by_hand(session, to_agent, tenant.id, task_id, actor, now)
                    if claimed.over_capacity:
                        result.over_capacity.append(task_id)
        except NotAssignable as exc:
            result.refused[task_id] = str(exc)
            continue
        result.moved.append(task_id)
        if holder is not None:
            holders.setdefault(holder, set()).add(kind)
        if to_agent is None:
            requeued.setdefault(kind, []).append(task_id)
    router.defer_route(uow, tenant.slug, requeued)
    for holder, kinds in holders.items():
        router.defer_fill(uow, holder, sorted(kinds))
    return result


REQUEUE_SQL = text(
    "UPDATE bpo.work_items SET state = 'queued', attempts = 0, last_error = NULL,"
    " assignee_id = NULL, lease_until = NULL, assigned_at = NULL, over_capacity = false,"
    " queued_at = :now, dispatch_due_at = :dispatch, updated_at = :now"
    " WHERE tenant_id = :t AND task_id = ANY(:ids) AND state = 'exception'"
    " RETURNING task_id, kind"
)


def requeue(
    uow: UnitOfWork, tenant: Tenant, task_ids: Sequence[int], actor: Actor, now: datetime
) -> list[int]:
    """Exception tasks back to the pool with their attempts reset, then routed.

    Tasks not in ``exception`` are left alone; returns the ids requeued. The
    dispatch is due shortly, so the reconciler routes them if the job is lost.
    """
    _require_tasks(uow.session, tenant, task_ids)
    rows = uow.session.execute(
        REQUEUE_SQL,
        {"t": tenant.id, "ids": list(task_ids), "now": now, "dispatch": now + DISPATCH_GRACE},
    ).all()
    by_kind: dict[str, list[int]] = {}
    for task_id, kind in rows:
        by_kind.setdefault(kind, []).append(int(task_id))
    ids = sorted(int(r[0]) for r in rows)
    moved = transition_many(
        uow.session, tenant.slug, ids, [Status.EXCEPTION], Status.QUEUED, actor,
        "requeued by a supervisor (attempts reset)", now,
    )  # fmt: skip
    if len(moved) != len(ids):
        raise RuntimeError(f"work index and tasks disagree in {tenant.slug}")
    router.defer_route(uow, tenant.slug, by_kind)
    return ids
