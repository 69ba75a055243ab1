"""The agent profile form: flat input names to a profile, and back.

Input names are paths, so errors map onto inputs by name: ``skills.<task type>``
(level 1..5, empty for none), ``capacity.<kind>`` (units 0..100),
``shifts.<n>.day|start|end`` (a row left wholly empty is dropped),
``serves.<slug>`` and ``overflow.<slug>`` (checkboxes, overseen tenants only) and
``presence``. Parsing never writes; the services validate again on save.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from bpo.identity.models import MembershipRole, StaffMembership
from bpo.routing.rules import Presence
from bpo.work.states import Kind
from bpo.work.types import TYPES
from bpo.workforce.models import AgentProfile
from bpo.workforce.shifts import Shift, ShiftError, describe, overlap
from tenants.models import Tenant

SHIFT_KEYS = ("day", "start", "end")
BLANK_SHIFT = {"day": "mon", "start": "", "end": ""}
MAX_SHIFT_ROWS = 50


@dataclass
class ProfileForm:
    """What the edit page shows and posts, as strings and booleans."""

    skills: dict[str, str] = field(default_factory=dict)  # task type -> "" or "1".."5"
    capacity: dict[str, str] = field(default_factory=dict)  # kind -> units
    shifts: list[dict[str, str]] = field(default_factory=list)
    serves: dict[str, bool] = field(default_factory=dict)  # slug -> serves
    overflow: dict[str, bool] = field(default_factory=dict)  # slug -> in the overflow group
    presence: str = Presence.OFFLINE.value

    @classmethod
    def of(
        cls,
        profile: AgentProfile | None,
        memberships: Sequence[StaffMembership],
        tenants: Sequence[Tenant],
    ) -> "ProfileForm":
        """The form filled from what is stored."""
        mine = {m.tenant_id: m for m in memberships if m.role is MembershipRole.AGENT}
        return cls(
            skills={t: str((profile.skills if profile else {}).get(t, "")) for t in TYPES},
            capacity={
                k.value: str((profile.capacity if profile else {}).get(k.value, 0)) for k in Kind
            },
            shifts=[dict(s) for s in (profile.shifts if profile else [])],
            serves={t.slug: t.id in mine for t in tenants},
            overflow={t.slug: t.id in mine and mine[t.id].overflow for t in tenants},
            presence=(profile.presence if profile else Presence.OFFLINE).value,
        )

    @classmethod
    def posted(cls, form: MultiDict[str, str], tenants: Sequence[Tenant]) -> "ProfileForm":
        """The form as posted (unknown names ignored)."""
        rows: dict[int, dict[str, str]] = {}
        for name, value in form.items():
            parts = name.split(".")
            if (
                len(parts) == 3
                and parts[0] == "shifts"
                and parts[1].isdigit()
                and parts[2] in SHIFT_KEYS
            ):
                rows.setdefault(int(parts[1]), {})[parts[2]] = value.strip()
        return cls(
            skills={t: form.get(f"skills.{t}", "").strip() for t in TYPES},
            capacity={k.value: form.get(f"capacity.{k.value}", "").strip() for k in Kind},
            shifts=[{**BLANK_SHIFT, **rows[i]} for i in sorted(rows)][:MAX_SHIFT_ROWS],
            serves={t.slug: bool(form.get(f"serves.{t.slug}")) for t in tenants},
            overflow={t.slug: bool(form.get(f"overflow.{t.slug}")) for t in tenants},
            presence=form.get("presence", "").strip(),
        )

    def add_shift(self) -> None:
        if len(self.shifts) < MAX_SHIFT_ROWS:
            self.shifts.append(dict(BLANK_SHIFT))

    def remove_shift(self, index: int) -> None:
        if 0 <= index < len(self.shifts):
            del self.shifts[index]


@dataclass
class Parsed:
    profile: dict[str, Any]  # for workforce.services.update_profile
    serves: dict[int, bool]  # tenant id -> overflow flag, for the tenants to serve
    presence: Presence | None
    errors: dict[str, list[str]]


def _number(raw: str, low: int, high: int) -> int | str:
    """``raw`` as an int in [low, high], or the error message."""
    try:
        value = int(raw)
    except ValueError:
        return "enter a whole number"
    if not low <= value <= high:
        return f"must be between {low} and {high}"
    return value


def parse(form: ProfileForm, tenants: Sequence[Tenant]) -> Parsed:
    """Check every input; ``errors`` names each bad one by its input name."""
    errors: dict[str, list[str]] = {}
    skills: dict[str, int] = {}
    for type_name, raw in form.skills.items():
        if raw:
            value = _number(raw, 1, 5)
            if isinstance(value, str):
                errors[f"skills.{type_name}"] = [value]
            else:
                skills[type_name] = value
    capacity: dict[str, int] = {}
    for kind, raw in form.capacity.items():
        value = _number(raw or "0", 0, 100)
        if isinstance(value, str):
            errors[f"capacity.{kind}"] = [value]
        elif value:
            capacity[kind] = value
    rows: list[tuple[int, Shift]] = []
    for index, row in enumerate(form.shifts):
        if not row.get("start") and not row.get("end"):
            continue  # an empty row added and never filled
        try:
            rows.append((index, Shift.parse(row)))
        except ShiftError as exc:
            errors[f"shifts.{index}"] = [str(exc)]
    clash = overlap([shift for _, shift in rows])
    if clash:  # named on the later row of the two
        later = next(i for i, shift in reversed(rows) if shift is clash[1])
        errors[f"shifts.{later}"] = [f"overlaps {describe(clash[0])}"]
    shifts = [shift.as_dict() for _, shift in rows]
    serves = {}
    for tenant in tenants:
        if form.serves.get(tenant.slug):
            serves[tenant.id] = form.overflow.get(tenant.slug, False)
        elif form.overflow.get(tenant.slug):
            errors[f"overflow.{tenant.slug}"] = ["only for a client the agent serves"]
    presence = None
    if form.presence:
        try:
            presence = Presence(form.presence)
        except ValueError:
            errors["presence"] = ["must be online, away or offline"]
    profile = {"skills": skills, "capacity": capacity, "shifts": shifts}
    return Parsed(profile, serves, presence, errors)


def flat_errors(fields: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested errors as input names; a dict value's error sits under
    ``value`` (``{"skills": {"x": {"value": [...]}}}`` -> ``skills.x``)."""
    flat: dict[str, list[str]] = {}
    for key, value in fields.items():
        name = (
            prefix
            if key in ("value", "key") and prefix
            else f"{prefix}.{key}"
            if prefix
            else str(key)
        )
        if isinstance(value, Mapping):
            flat.update(flat_errors(value, name))
        else:
            flat.setdefault(name, []).extend(str(v) for v in value)
    return flat
