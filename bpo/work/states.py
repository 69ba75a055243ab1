"""Task statuses, priorities, kinds, and the legal transitions between statuses."""

import enum


class Kind(enum.StrEnum):
    DATA_ENTRY = "data_entry"
    ACCOUNTING = "accounting"
    SUPPORT = "support"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Higher is more urgent (used to order work)."""
        return PRIORITY_RANKS[self]


PRIORITY_RANKS = {p: i for i, p in enumerate(Priority)}


class Status(enum.StrEnum):
    NEW = "new"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CLIENT = "waiting_on_client"
    IN_REVIEW = "in_review"
    REJECTED = "rejected"
    DONE = "done"
    CANCELLED = "cancelled"
    EXCEPTION = "exception"

    @property
    def is_open(self) -> bool:
        return self not in CLOSED

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


CLOSED = frozenset({Status.DONE, Status.CANCELLED})

# Statuses a client may still cancel from: nobody has started the work.
CANCELLABLE_BY_CLIENT = frozenset({Status.NEW, Status.QUEUED, Status.ASSIGNED})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.QUEUED, Status.CANCELLED, Status.EXCEPTION}),
    Status.QUEUED: frozenset({Status.ASSIGNED, Status.CANCELLED, Status.EXCEPTION}),
    Status.ASSIGNED: frozenset(
        {Status.IN_PROGRESS, Status.QUEUED, Status.CANCELLED, Status.EXCEPTION}
    ),
    Status.IN_PROGRESS: frozenset(
        {
            Status.WAITING_ON_CLIENT,
            Status.IN_REVIEW,
            Status.QUEUED,
            Status.CANCELLED,
            Status.EXCEPTION,
        }
    ),
    Status.WAITING_ON_CLIENT: frozenset({Status.IN_PROGRESS, Status.CANCELLED, Status.EXCEPTION}),
    Status.IN_REVIEW: frozenset({Status.DONE, Status.REJECTED, Status.EXCEPTION}),
    Status.REJECTED: frozenset(
        {Status.IN_PROGRESS, Status.QUEUED, Status.CANCELLED, Status.EXCEPTION}
    ),
    Status.EXCEPTION: frozenset({Status.QUEUED, Status.CANCELLED}),
    Status.DONE: frozenset(),
    Status.CANCELLED: frozenset(),
}


def can_transition(source: Status, target: Status) -> bool:
    return target in TRANSITIONS[source]
