"""CSV batches in and task lists out.

Import reads a file twice, streaming both times, inside one unit of work:

1. every row is turned into a task input and validated by the same code as the
   API (:class:`~bpo.work.services.BatchChecker`), keeping only the problems and
   the external references, so memory does not grow with the rows;
2. if there was no problem, the rows are read again and inserted in chunks
   (:func:`~bpo.work.services.insert_stream`). Any problem writes nothing.

Files must be UTF-8 (a BOM is fine); the delimiter is a comma, semicolon or tab,
told from the header line. Exports escape cells that a spreadsheet would run as
a formula (OWASP "CSV injection").
"""

import csv
import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, func, select

from bpo.core.actors import Actor
from bpo.core.errors import ValidationFailed, flatten_fields
from bpo.core.uow import UnitOfWork
from bpo.work import services
from bpo.work.models import DataEntryForm, Task

MAX_ROWS = 50_000
DELIMITERS = (",", ";", "\t")
ROW_KEYS = ("external_ref", "title", "priority")

Row = tuple[int, dict[str, str]]  # (row number as a spreadsheet shows it, cells)


@dataclass(frozen=True)
class Template:
    name: str
    label: str
    type: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    example: tuple[dict[str, str], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


INVOICES = Template(
    "invoices",
    "Supplier invoices (one row per invoice line)",
    "accounting.invoice",
    required=(
        "vendor",
        "invoice_number",
        "invoice_date",
        "due_date",
        "currency",
        "subtotal",
        "tax_total",
        "total",
        "description",
        "quantity",
        "unit_price",
    ),
    optional=("tax_rate", "purchase_order", *ROW_KEYS),
    example=(
        {
            "vendor": "Paper & Co",
            "invoice_number": "INV-1001",
            "invoice_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "USD",
            "subtotal": "24.97",
            "tax_total": "2.50",
            "total": "27.47",
            "description": "A4 paper",
            "quantity": "3",
            "unit_price": "4.99",
            "tax_rate": "10",
            "external_ref": "AP-1001",
        },
        {
            "vendor": "Paper & Co",
            "invoice_number": "INV-1001",
            "description": "Pens",
            "quantity": "10",
            "unit_price": "1.00",
            "tax_rate": "10",
        },
    ),
)

DATA_ENTRY = Template(
    "data_entry",
    "Data-entry records (one row per record; extra columns are the form's fields)",
    "data_entry.record",
    required=("form", "source_text"),
    optional=ROW_KEYS,
    example=({"form": "w9", "source_text": "Name: ACME LLC, TIN 123456789", "tin": "123456789"},),
)

TEMPLATES = {t.name: t for t in (DATA_ENTRY, INVOICES)}

INVOICE_HEAD = ("vendor", "invoice_number", "invoice_date", "due_date", "currency")
TOTAL_COLUMNS = {"subtotal": "subtotal", "tax": "tax_total", "total": "total"}  # payload: column
LINE_COLUMNS = ("description", "quantity", "unit_price", "tax_rate")
# Read from an invoice's first row; its other rows leave them blank or repeat them.
INVOICE_COLUMNS = (*INVOICE_HEAD, "purchase_order", *TOTAL_COLUMNS.values(), *ROW_KEYS)


@dataclass(frozen=True)
class Problem:
    line: int | None  # None: the file as a whole
    column: str
    message: str


@dataclass
class Report:
    template: Template
    rows: int = 0
    tasks: int = 0
    existing: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def error(self) -> ValidationFailed:
        by_line: dict[str, dict[str, list[str]]] = {}
        for p in self.problems:
            key = f"line {p.line}" if p.line else "file"
            by_line.setdefault(key, {}).setdefault(p.column or "row", []).append(p.message)
        return ValidationFailed(
            f"{len({p.line for p in self.problems})} line(s) of the file have errors;"
            " nothing was created",
            fields=by_line,
        )


class FileRefused(ValidationFailed):
    """The file as a whole cannot be read (encoding, delimiter, header, size)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, fields={"file": [message]})


# -- reading ---------------------------------------------------------------------------


def _text(binary: IO[bytes]) -> io.TextIOWrapper:
    head = binary.read(4)
    binary.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused("the file is UTF-16; save it as CSV UTF-8")
    # utf-8-sig drops a BOM; strict: a byte that is not UTF-8 stops the read.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="strict", newline="")


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise FileRefused(
            "cannot tell the columns apart: separate them with commas, semicolons or tabs"
        )
    return best


def read_rows(path: Path, template: Template, form_fields: set[str]) -> Iterator[Row]:
    """The file's data rows as ``(line, {column: cell})``, blank cells left out.

    Raises FileRefused for a file that cannot be read as this template.
    """
    with path.open("rb") as binary, _text(binary) as text:
        try:
            header_line = text.readline()
            if "\x00" in header_line:
                raise FileRefused("this is not a text file; save it as CSV UTF-8")
            delimiter = _delimiter(header_line)
            header = [
                c.strip().lower() for c in next(csv.reader([header_line], delimiter=delimiter))
            ]
            _check_header(header, template, form_fields)
            reader = csv.reader(text, delimiter=delimiter)
            rows = 0
            for number, cells in enumerate(reader, start=2):  # spreadsheet rows: header is 1
                if not any(c.strip() for c in cells):
                    continue
                rows += 1
                if rows > MAX_ROWS:
                    raise FileRefused(f"the file has more than {MAX_ROWS:,} rows; split it")
                if len(cells) > len(header):
                    yield number, {"__extra__": "more cells than the header has columns"}
                    continue
                if nul := next(
                    (c for c, v in zip(header, cells, strict=False) if "\x00" in v), None
                ):
                    yield number, {"__extra__": f"{nul}: a NUL character cannot be stored"}
                    continue
                yield (
                    number,
                    {
                        column: cell.strip()
                        for column, cell in zip(header, cells, strict=False)
                        if cell.strip()
                    },
                )
        except UnicodeDecodeError:
            raise FileRefused(
                "the file is not UTF-8 text (perhaps Latin-1 or Windows-1252); save it as CSV UTF-8"
            ) from None
        except csv.Error as exc:
            raise FileRefused(f"the file is not valid CSV: {exc}") from None


def _check_header(header: list[str], template: Template, form_fields: set[str]) -> None:
    missing = [c for c in template.required if c not in header]
    known = set(template.columns) | (form_fields if template is DATA_ENTRY else set())
    unknown = [c for c in header if c and c not in known]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    problems = []
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s): " + ", ".join(unknown))
    if duplicated:
        problems.append("repeated column(s): " + ", ".join(duplicated))
    if problems:
        raise FileRefused(
            "the header does not match the " + template.name + " template: " + "; ".join(problems)
        )


# -- rows to task inputs ---------------------------------------------------------------


def _common(cells: dict[str, str]) -> dict[str, Any]:
    return {key: cells[key] for key in ROW_KEYS if key in cells}


def _record(rows: list[Row]) -> dict[str, Any]:
    (_, cells), base = rows[0], set(DATA_ENTRY.columns)
    return {
        **_common(cells),
        "type": DATA_ENTRY.type,
        "payload": {
            "form": cells.get("form", ""),
            "source": {"text": cells.get("source_text", "")},
            "values": {k: v for k, v in cells.items() if k not in base},
        },
    }


def _invoice(rows: list[Row]) -> dict[str, Any]:
    _, first = rows[0]
    payload: dict[str, Any] = {k: first[k] for k in INVOICE_HEAD if k in first}
    if "purchase_order" in first:
        payload["purchase_order"] = first["purchase_order"]
    payload["totals"] = {key: first[col] for key, col in TOTAL_COLUMNS.items() if col in first}
    payload["lines"] = [{k: cells[k] for k in LINE_COLUMNS if k in cells} for _, cells in rows]
    return {**_common(first), "type": INVOICES.type, "payload": payload}


def _groups(rows: Iterator[Row], template: Template) -> Iterator[list[Row]]:
    """One group of rows per task: consecutive rows of one invoice, else single rows."""
    if template is not INVOICES:
        for row in rows:
            yield [row]
        return
    group: list[Row] = []
    key: tuple[str, str] | None = None
    for row in rows:
        cells = row[1]
        row_key = (cells.get("vendor", ""), cells.get("invoice_number", ""))
        if group and row_key != key:
            yield group
            group = []
        group.append(row)
        key = row_key
    if group:
        yield group


BUILD: dict[str, Callable[[list[Row]], dict[str, Any]]] = {
    DATA_ENTRY.name: _record,
    INVOICES.name: _invoice,
}


def _tasks(
    path: Path, template: Template, form_fields: set[str]
) -> Iterator[tuple[list[Row], dict[str, Any]]]:
    for group in _groups(read_rows(path, template, form_fields), template):
        yield group, BUILD[template.name](group)


# -- errors back to lines and columns --------------------------------------------------

LINE_PATH = re.compile(r"^payload\.lines\.(\d+)\.(\w+)")


def _problems(group: list[Row], fields: dict[str, Any]) -> list[Problem]:
    first = group[0][0]
    found = []
    for path, messages in flatten_fields(fields).items():
        line, column = first, path
        if match := LINE_PATH.match(path):
            index = int(match.group(1))
            line = group[index][0] if index < len(group) else first
            column = match.group(2)
        else:
            path = path.removeprefix("payload.").removesuffix("._schema")
            if path.startswith("totals."):
                column = TOTAL_COLUMNS.get(path.removeprefix("totals."), path)
            else:
                column = path.removeprefix("values.").replace("source.text", "source_text")
        for message in messages:
            found.append(Problem(line, "" if column == "_schema" else column, message))
    return found


def _invoice_problems(group: list[Row]) -> list[Problem]:
    """An invoice's rows agree on its own columns."""
    first_line, first = group[0]
    found = []
    for line, cells in group[1:]:
        for column in INVOICE_COLUMNS:
            value = cells.get(column)
            if value is not None and value != first.get(column):
                found.append(
                    Problem(
                        line,
                        column,
                        f"differs from the invoice's first row (line {first_line}):"
                        " leave it blank or repeat the same value",
                    )
                )
    return found


# -- the two passes --------------------------------------------------------------------


def _form_fields(uow: UnitOfWork) -> set[str]:
    return {
        spec["name"]
        for fields in uow.session.scalars(select(DataEntryForm.fields).where(DataEntryForm.active))
        for spec in fields
    }


def check_file(
    uow: UnitOfWork, path: Path, template: Template, progress: Callable[[int], None] | None = None
) -> Report:
    """Pass 1: validate every row; nothing is written."""
    report = Report(template)
    checker = services.BatchChecker(uow, track_refs=False)  # references: in `seen`
    form_fields = _form_fields(uow)
    seen = _Seen(uow)
    try:
        for group, task in _tasks(path, template, form_fields):
            report.rows += len(group)
            report.tasks += 1
            extra = [
                Problem(line, "", cells["__extra__"])
                for line, cells in group
                if "__extra__" in cells
            ]
            line, first = group[0]
            invoice = None
            if template is INVOICES:
                invoice = f"{first.get('vendor', '')}\x1f{first.get('invoice_number', '')}"
                extra = extra or _invoice_problems(group)
            seen.add(line, first.get("external_ref"), invoice)
            if extra:
                report.problems += extra
            elif checker.check(str(group[0][0]), task) is None:
                report.problems += _problems(group, checker.errors.pop(str(group[0][0])))
            if progress:
                progress(len(group))
    except FileRefused as exc:
        report.problems = [Problem(None, "file", exc.message)]
        return report
    if report.rows == 0:
        report.problems.append(Problem(None, "file", "the file has a header but no rows"))
    report.problems += seen.repeats()
    report.problems.sort(key=lambda p: p.line or 0)
    report.existing = seen.existing()
    seen.drop()
    return report


class _Seen:
    """Each task's line, external reference and invoice key, kept in a temporary
    table of the transaction rather than in memory: repeats within the file and
    references already submitted are found by two queries at the end."""

    def __init__(self, uow: UnitOfWork, chunk: int = 1000) -> None:
        self.uow, self.chunk = uow, chunk
        self.table = Table(
            f"csv_check_{secrets.token_hex(6)}",
            MetaData(),
            Column("line", Integer, nullable=False),
            Column("ref", Text),
            Column("invoice", Text),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )
        self.table.create(uow.session.connection())
        self.pending: list[tuple[int, str | None, str | None]] = []

    def add(self, line: int, ref: str | None, invoice: str | None) -> None:
        if ref is not None or invoice is not None:
            self.pending.append((line, ref, invoice))
            if len(self.pending) >= self.chunk:
                self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        driver = self.uow.session.connection().connection.driver_connection
        assert driver is not None
        statement = f'COPY "{self.table.name}" (line, ref, invoice) FROM STDIN'
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in self.pending:
                copy.write_row(row)
        self.pending.clear()

    def repeats(self) -> list[Problem]:
        """Rows repeating an earlier row's reference, or an invoice started earlier."""
        self.flush()
        found = []
        for column, name in (("ref", "external_ref"), ("invoice", "invoice_number")):
            key = self.table.c[column]
            first = func.min(self.table.c.line).over(partition_by=key)
            query = select(self.table.c.line, first.label("first"), key).where(key.is_not(None))
            ranked = query.subquery()
            for line, first_line, value in self.uow.session.execute(
                select(ranked).where(ranked.c.line != ranked.c.first).order_by(ranked.c.line)
            ):
                if column == "ref":
                    message = f"repeats row {first_line}"
                else:
                    vendor, number = str(value).split("\x1f", 1)
                    message = (
                        f"invoice {number} of {vendor} already started at line {first_line};"
                        " the rows of one invoice must follow each other"
                    )
                found.append(Problem(line, name, message))
        return found

    def existing(self) -> int:
        """How many of the file's references are tasks already (counted, not loaded)."""
        self.flush()
        ref = self.table.c.ref
        return int(
            self.uow.session.scalar(
                select(func.count(func.distinct(ref))).select_from(
                    self.table.join(Task, Task.external_ref == ref)
                )
            )
            or 0
        )

    def drop(self) -> None:
        self.table.drop(self.uow.session.connection())


def import_file(
    uow: UnitOfWork,
    path: Path,
    template: Template,
    actor: Actor,
    progress: Callable[[int], None] | None = None,
) -> services.BatchCounts:
    """Both passes; raises ValidationFailed listing every bad line, writing nothing."""
    report = check_file(uow, path, template, progress)
    if not report.ok:
        raise report.error()
    return import_after_check(uow, path, template, actor, progress)


def import_after_check(
    uow: UnitOfWork,
    path: Path,
    template: Template,
    actor: Actor,
    progress: Callable[[int], None] | None = None,
) -> services.BatchCounts:
    """Pass 2 of a file :func:`check_file` found clean, in the same unit of work."""
    form_fields = _form_fields(uow)
    return services.insert_stream(
        uow, (task for _, task in _tasks(path, template, form_fields)), actor, progress=progress
    )


# -- export ----------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "external_ref",
    "type",
    "title",
    "priority",
    "status",
    "created_at",
    "sla_due_at",
    "closed_at",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class Export:
    """The matching tasks as CSV text, header first, a few hundred rows per piece;
    ``rows`` counts the tasks written so far. Instants are ISO 8601 with the offset of
    ``zone`` (the viewer's), as every CSV of the pages writes them."""

    def __init__(
        self,
        uow: UnitOfWork,
        filters: dict[str, Any],
        batch: int = 500,
        zone: tzinfo = UTC,
    ) -> None:
        self.uow, self.filters, self.batch, self.zone = uow, filters, batch, zone
        self.rows = 0

    def _instant(self, value: datetime | None) -> str:
        return value.astimezone(self.zone).isoformat() if value else ""

    def __iter__(self) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for task in services.iter_tasks(self.uow, self.filters):
            writer.writerow(
                [
                    task.id,
                    safe_cell(task.external_ref),
                    task.type,
                    safe_cell(task.title),
                    task.priority.value,
                    task.status.value,
                    self._instant(task.created_at),
                    self._instant(task.sla_due_at),
                    self._instant(task.closed_at),
                ]
            )
            self.rows += 1
            if self.rows % self.batch == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()


def export_tasks(uow: UnitOfWork, filters: dict[str, Any], out: IO[str]) -> int:
    """Write the matching tasks as CSV to ``out``, streaming; returns the row count."""
    export = Export(uow, filters)
    for piece in export:
        out.write(piece)
    return export.rows


def template_csv(
    template: Template, form_fields: list[str] | None = None, *, example: bool = False
) -> str:
    """An empty file of ``template``: its header (with a form's fields for data entry);
    with ``example``, the template's example rows too."""
    columns = list(template.columns) + [f for f in (form_fields or []) if f not in template.columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in template.example if example else ():
        writer.writerow({k: v for k, v in row.items() if k in columns})
    return out.getvalue()
