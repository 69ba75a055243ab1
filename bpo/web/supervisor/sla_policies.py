"""SLA calendars and policies of one overseen tenant, the preview and recalculation.

Pages live under ``/supervisor/tenants/<slug>/sla``; the request is bound to that
tenant and the supervisor must oversee it (admins oversee all), else 404, and a
calendar or policy id absent from this tenant's schema is 404 too.

Input names are the names :mod:`bpo.sla.policies` reports errors under, so each
error shows next to its input: ``name``, ``timezone``, ``week.<day>.<n>.start|end``
(errors ``week.<day>.<n>`` and ``week.<day>``), ``holidays`` (one date a line);
``position``, ``active``, ``calendar_id``, ``kinds``/``types``/``priorities``
(checkboxes), ``targets.<target>.hours|minutes`` (stored as seconds), ``thresholds``
(``50, 75, 90``) and ``pauses.<target>`` (checkboxes). Bad input answers 400 and
rolls the request back, so nothing is written. Editing never touches a clock: the
recalculation is an explicit job, audited by :func:`bpo.sla.policies.recalculate`.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from bpo.core.errors import NotFound, ValidationFailed
from bpo.core.uow import request_uow
from bpo.routing import supervision
from bpo.sla import policies
from bpo.sla.engine import DAYS
from bpo.sla.models import SlaCalendar, SlaPolicy
from bpo.sla.report import TARGET_LABELS, duration
from bpo.sla.services import PAUSABLE, TARGETS
from bpo.web.access import staff_required
from bpo.web.supervisor import supervisor
from bpo.web.supervisor.agents import SUPERVISORS, actor
from bpo.web.supervisor.forms import flat_errors
from bpo.work.models import Task
from bpo.work.states import Kind, Priority
from bpo.work.types import TYPES
from tenants.models import Tenant

RECALCULATE_JOB = "queues.jobs.sla.recalculate"
MAX_ROWS = 8  # interval rows per day
SPLIT = re.compile(r"[\s,;]+")
PREFIX = "/tenants/<slug>/sla"


def _tenant(slug: str) -> Tenant:
    return supervision.overseen_tenant(request_uow().session, current_user.user, slug)


@lru_cache(maxsize=1)
def _zones() -> list[str]:
    return sorted(z for z in available_timezones() if policies.is_region_zone(z))


def _words(raw: str) -> list[str]:
    return [w for w in SPLIT.split(raw or "") if w]


# -- forms ------------------------------------------------------------------------


@dataclass
class CalendarForm:
    name: str = ""
    timezone: str = "UTC"
    week: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    holidays: str = ""

    @classmethod
    def of(cls, row: SlaCalendar | None) -> "CalendarForm":
        if row is None:
            nine_to_five = [("09:00", "17:00")]
            return cls(
                week={d: list(nine_to_five) if d not in ("sat", "sun") else [] for d in DAYS}
            )
        d = row.definition
        return cls(
            name=row.name,
            timezone=d.get("timezone", ""),
            week={day: [(s, e) for s, e in d.get("week", {}).get(day, [])] for day in DAYS},
            holidays="\n".join(d.get("holidays", [])),
        )

    @classmethod
    def posted(cls, form: MultiDict[str, str]) -> "CalendarForm":
        week = {
            day: [
                (
                    form.get(f"week.{day}.{i}.start", "").strip(),
                    form.get(f"week.{day}.{i}.end", "").strip(),
                )
                for i in range(MAX_ROWS)
            ]
            for day in DAYS
        }
        return cls(
            name=form.get("name", "").strip(),
            timezone=form.get("timezone", "").strip(),
            week=week,
            holidays=form.get("holidays", ""),
        )

    def rows(self, day: str) -> list[tuple[str, str]]:
        """The day's rows as typed, with blank rows to add intervals (at least two)."""
        typed = self.week.get(day, [])
        last = max((i for i, (s, e) in enumerate(typed) if s or e), default=-1)
        count = min(MAX_ROWS, max(2, last + 2))
        return [typed[i] if i < len(typed) else ("", "") for i in range(count)]

    def definition(self) -> tuple[dict[str, Any], dict[str, list[int]], list[str]]:
        """The engine's format, plus each day's row numbers and the holiday words, to
        map the engine's error names (``week.mon.0``, ``holidays.2``) back to inputs."""
        week: dict[str, list[list[str]]] = {}
        rows: dict[str, list[int]] = {}
        for day in DAYS:
            kept = [(i, s, e) for i, (s, e) in enumerate(self.week.get(day, [])) if s or e]
            week[day] = [[s, e] for _, s, e in kept]
            rows[day] = [i for i, _, _ in kept]
        holidays = _words(self.holidays)
        return {"timezone": self.timezone, "week": week, "holidays": holidays}, rows, holidays


def calendar_errors(
    fields: dict[str, Any], rows: dict[str, list[int]], holidays: list[str]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, messages in flat_errors(fields).items():
        parts = name.split(".")
        if parts[0] == "week" and len(parts) == 3 and parts[2].isdigit() and parts[1] in rows:
            name = f"week.{parts[1]}.{rows[parts[1]][int(parts[2])]}"
        elif parts[0] == "holidays" and len(parts) == 2 and parts[1].isdigit():
            word = holidays[int(parts[1])]
            messages, name = [f"{word!r} {m}" for m in messages], "holidays"
        errors.setdefault(name, []).extend(messages)
    return errors


@dataclass
class PolicyForm:
    name: str = ""
    position: str = "100"
    active: bool = True
    calendar_id: str = ""
    conditions: dict[str, list[str]] = field(default_factory=dict)
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)  # hours, minutes
    thresholds: str = "50, 75, 90"
    pauses: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, row: SlaPolicy | None) -> "PolicyForm":
        if row is None:
            return cls(pauses={"resolution": ["waiting_on_client"]})
        return cls(
            name=row.name,
            position=str(row.position),
            active=row.active,
            calendar_id=str(row.calendar_id),
            conditions={k: list(v) for k, v in (row.conditions or {}).items()},
            targets={
                t: (str(s // 3600), str(s % 3600 // 60)) for t, s in (row.targets or {}).items()
            },
            thresholds=", ".join(str(t) for t in row.thresholds or []),
            pauses={k: list(v) for k, v in (row.pauses or {}).items()},
        )

    @classmethod
    def posted(cls, form: MultiDict[str, str]) -> "PolicyForm":
        return cls(
            name=form.get("name", "").strip(),
            position=form.get("position", "").strip(),
            active=bool(form.get("active")),
            calendar_id=form.get("calendar_id", "").strip(),
            conditions={k: form.getlist(k) for k in ("kinds", "types", "priorities")},
            targets={
                t: (
                    form.get(f"targets.{t}.hours", "").strip(),
                    form.get(f"targets.{t}.minutes", "").strip(),
                )
                for t in TARGETS
            },
            thresholds=form.get("thresholds", ""),
            pauses={t: form.getlist(f"pauses.{t}") for t in TARGETS},
        )

    def parse(self) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The input for ``save_policy`` and the errors only the form can see (numbers
        typed as hours and minutes); the service's own errors come on top."""
        errors: dict[str, list[str]] = {}
        targets: dict[str, int] = {}
        for target, (hours, minutes) in self.targets.items():
            if not hours and not minutes:
                continue
            if not (hours or "0").isdigit() or not (minutes or "0").isdigit():
                errors[f"targets.{target}"] = ["enter whole hours and minutes"]
                continue
            seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60
            if int(minutes or 0) > 59:
                errors[f"targets.{target}"] = ["minutes must be 0 to 59"]
            elif not 60 <= seconds <= policies.MAX_TARGET:
                errors[f"targets.{target}"] = ["must be between 1 minute and 8784 hours"]
            else:
                targets[target] = seconds
        data: dict[str, Any] = {
            "name": self.name,
            "active": self.active,
            "targets": targets,
            "pauses": {t: v for t, v in self.pauses.items() if v},
            **{k: v for k, v in self.conditions.items()},
        }
        for key, raw in (("position", self.position), ("calendar_id", self.calendar_id)):
            if raw.isdigit():
                data[key] = int(raw)
            elif raw or key == "calendar_id":
                errors[key] = [
                    "choose one of the calendars"
                    if key == "calendar_id"
                    else "enter a whole number"
                ]
        words = _words(self.thresholds)
        if all(w.isdigit() for w in words):
            data["thresholds"] = [int(w) for w in words]
        else:
            errors["thresholds"] = ["enter whole percentages separated by commas, e.g. 50, 75, 90"]
        return data, errors


def policy_errors(fields: dict[str, Any]) -> dict[str, list[str]]:
    """The service's error names as input names (list items under their list)."""
    errors: dict[str, list[str]] = {}
    for name, messages in flat_errors(fields).items():
        parts = name.split(".")
        keep = 2 if parts[0] in ("targets", "pauses") else 1
        errors.setdefault(".".join(parts[:keep]), []).extend(messages)
    return errors


# -- pages ------------------------------------------------------------------------


@supervisor.get(PREFIX)
@staff_required(*SUPERVISORS)
def sla_index(slug: str) -> ResponseReturnValue:
    tenant = _tenant(slug)
    session = request_uow().session
    return render_template(
        "supervisor/sla_policy_list.html",
        tenant=tenant,
        calendars=list(session.scalars(select(SlaCalendar).order_by(SlaCalendar.name))),
        policies=list(
            session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.name))
        ),
        labels=TARGET_LABELS,
        duration=duration,
    )


@supervisor.route(f"{PREFIX}/calendars/new", methods=["GET", "POST"])
@supervisor.route(f"{PREFIX}/calendars/<int:calendar_id>", methods=["GET", "POST"])
@staff_required(*SUPERVISORS)
def sla_calendar(slug: str, calendar_id: int | None = None) -> ResponseReturnValue:
    tenant = _tenant(slug)
    uow = request_uow()
    row = _get(SlaCalendar, calendar_id)
    if request.method == "GET":
        return _calendar_page(tenant, row, CalendarForm.of(row), {})
    form = CalendarForm.posted(request.form)
    definition, rows, holidays = form.definition()
    try:
        saved = policies.save_calendar(uow, form.name, definition, calendar_id)
    except ValidationFailed as exc:
        errors = calendar_errors(exc.fields, rows, holidays)
        return _calendar_page(tenant, row, form, errors), 400
    flash(
        f"Saved calendar {saved.name}. Open tasks keep their clocks until you recalculate.",
        "success",
    )
    return redirect(url_for("supervisor.sla_index", slug=slug), 303)


def _get(model: type[Any], row_id: int | None) -> Any:
    if row_id is None:
        return None
    row = request_uow().session.get(model, row_id)
    if row is None:
        raise NotFound("This client has no such calendar or policy.")
    return row


def _calendar_page(
    tenant: Tenant, row: SlaCalendar | None, form: CalendarForm, errors: dict[str, list[str]]
) -> str:
    return render_template(
        "supervisor/sla_calendar.html",
        tenant=tenant,
        row=row,
        form=form,
        errors=errors,
        days=DAYS,
        zones=_zones(),
    )


@supervisor.route(f"{PREFIX}/policies/new", methods=["GET", "POST"])
@supervisor.route(f"{PREFIX}/policies/<int:policy_id>", methods=["GET", "POST"])
@staff_required(*SUPERVISORS)
def sla_policy(slug: str, policy_id: int | None = None) -> ResponseReturnValue:
    tenant = _tenant(slug)
    uow = request_uow()
    row = _get(SlaPolicy, policy_id)
    if request.method == "GET":
        return _policy_page(tenant, row, PolicyForm.of(row), {})
    form = PolicyForm.posted(request.form)
    data, errors = form.parse()
    checked = policies.POLICY_ARGS.validate(data)
    for name, messages in policy_errors(checked).items():
        errors.setdefault(name, messages)
    try:
        if errors:
            raise ValidationFailed("the policy has errors", fields=errors)
        saved = policies.save_policy(uow, data, policy_id)
    except ValidationFailed as exc:
        return _policy_page(tenant, row, form, policy_errors(exc.fields)), 400
    flash(
        f"Saved policy {saved.name}. Open tasks keep their clocks until you recalculate.", "success"
    )
    return redirect(url_for("supervisor.sla_index", slug=slug), 303)


def _policy_page(
    tenant: Tenant, row: SlaPolicy | None, form: PolicyForm, errors: dict[str, list[str]]
) -> str:
    calendars = request_uow().session.scalars(select(SlaCalendar).order_by(SlaCalendar.name))
    return render_template(
        "supervisor/sla_policy.html",
        tenant=tenant,
        row=row,
        form=form,
        errors=errors,
        calendars=list(calendars),
        kinds=[(k.value, k.label) for k in Kind],
        types=[(t.name, t.label) for t in TYPES.values()],
        priorities=[(p.value, p.value) for p in Priority],
        targets=TARGETS,
        labels=TARGET_LABELS,
        pausable=PAUSABLE,
    )


@supervisor.get(f"{PREFIX}/preview")
@staff_required(*SUPERVISORS)
def sla_preview(slug: str) -> ResponseReturnValue:
    """What recalculating would do to each open clock: due before, after, the shift."""
    tenant = _tenant(slug)
    uow = request_uow()
    changes = policies.preview(uow)
    ids = sorted({c.task_id for c in changes})
    titles = dict(uow.session.execute(select(Task.id, Task.title).where(Task.id.in_(ids))).all())
    shifts = [c.shift_seconds for c in changes if c.shift_seconds is not None]
    return render_template(
        "supervisor/sla_policy_preview.html",
        tenant=tenant,
        changes=changes,
        titles=titles,
        labels=TARGET_LABELS,
        tasks=len(ids),
        later=sum(1 for s in shifts if s > 0),
        earlier=sum(1 for s in shifts if s < 0),
        duration=duration,
    )


@supervisor.post(f"{PREFIX}/recalculate")
@staff_required(*SUPERVISORS)
def sla_recalculate(slug: str) -> ResponseReturnValue:
    """Queue the recalculation of open clocks (closed tasks are never touched)."""
    tenant = _tenant(slug)
    who = actor()
    request_uow().defer(
        RECALCULATE_JOB,
        queue="sla",
        job_id=f"sla-recalculate-{tenant.slug}",
        tenant=tenant.slug,
        actor_ref=who.ref,
        actor_name=who.name,
    )
    flash("Recalculation of open tasks queued; it is recorded in the audit log.", "success")
    return redirect(url_for("supervisor.sla_index", slug=slug), 303)
