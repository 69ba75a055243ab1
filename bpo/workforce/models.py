"""Agent profiles in the shared schema: what routing needs to know of each agent."""

from datetime import datetime
from typing import Any

from sqlalchemy import FetchedValue, ForeignKey, String, text
from sqlalchemy.dialects.postgresql import ARRAY, INT4MULTIRANGE, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpo.identity.models import StaffUser
from bpo.routing.rules import Presence
from tenants.db import SharedModel, portable_enum, utcnow


class AgentProfile(SharedModel):
    """One per agent: skills with levels, capacity per kind of work, presence, shifts.

    ``skills`` maps a task type (``accounting.invoice``) to a level 1..5;
    ``capacity`` maps a kind (``accounting``) to weighted units; ``shifts`` is a list
    of ``{"day", "start", "end"}`` in the agent's own time zone (``StaffUser.timezone``).
    """

    __tablename__ = "agent_profiles"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey(StaffUser.id, ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    capacity: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    presence: Mapped[Presence] = mapped_column(
        portable_enum(Presence, "presence"), default=Presence.OFFLINE
    )
    presence_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    last_assigned_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(300))
    # Kept by the database (triggers of migration s0010), never written here: what
    # routing's SQL reads of ``shifts`` and ``skills``, and the units held per kind
    # (kept from the work index, as is ``last_assigned_at``).
    shift_week: Mapped[Any] = mapped_column(
        INT4MULTIRANGE, server_default=text("'{}'"), server_onupdate=FetchedValue()
    )
    skill_tokens: Mapped[list[str]] = mapped_column(
        ARRAY(String), server_default=text("'{}'"), server_onupdate=FetchedValue()
    )
    held: Mapped[dict[str, int]] = mapped_column(
        JSONB, server_default=text("'{}'"), server_onupdate=FetchedValue()
    )

    staff: Mapped[StaffUser] = relationship(lazy="joined")
