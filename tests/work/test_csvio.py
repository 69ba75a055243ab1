"""CSV batches: validated whole, all or nothing, every bad line named; encodings,
delimiters and headers; invoice lines grouped; exports escape formulas."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from bpo.core.actors import Actor
from bpo.core.errors import ValidationFailed
from bpo.core.uow import unit_of_work
from bpo.work import csvio
from bpo.work.models import Task
from tests.support.factories import ensure_form, task_count
from tests.support.helpers import unique

CLIENT = Actor("client:1", "Boss")
INVOICE_HEADER = (
    "external_ref,vendor,invoice_number,invoice_date,due_date,currency,"
    "subtotal,tax_total,total,description,quantity,unit_price,tax_rate"
)


def invoice_lines(ref: str, number: str, total: str = "27.47") -> list[str]:
    return [
        f"{ref},Paper & Co,{number},2026-11-02,2026-12-02,USD,"
        f"24.97,2.50,{total},A4 paper,3,4.99,10",
        f",Paper & Co,{number},,,,,,,Pens,10,1.00,10",
    ]


def write(
    tmp_path: Path, lines: list[str], *, encoding: str = "utf-8", name: str = "f.csv"
) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run(tenant: str, path: Path, template=csvio.INVOICES):
    with unit_of_work(tenant) as uow:
        return csvio.import_file(uow, path, template, CLIENT)


def refused(tenant: str, path: Path, template=csvio.INVOICES) -> ValidationFailed:
    before = task_count(tenant)
    with pytest.raises(ValidationFailed) as raised:
        run(tenant, path, template)
    assert task_count(tenant) == before  # nothing written
    return raised.value


def test_invoice_lines_are_grouped_into_invoices(world, tmp_path):
    a, b = unique("INV-"), unique("INV-")
    path = write(
        tmp_path, [INVOICE_HEADER, *invoice_lines(unique("r"), a), *invoice_lines(unique("r"), b)]
    )
    counts = run(world.alpha, path)
    assert (counts.created, counts.existing) == (2, 0)
    with unit_of_work(world.alpha) as uow:
        task = uow.session.scalar(select(Task).where(Task.title.contains(a)))
        assert [line["description"] for line in task.payload["lines"]] == ["A4 paper", "Pens"]
        assert task.payload["totals"]["total"] == "27.47"
    again = run(world.alpha, path)  # same references: nothing new
    assert (again.created, again.existing) == (0, 2)


def test_one_bad_line_writes_nothing_and_names_every_bad_line_and_column(world, tmp_path):
    good = invoice_lines(unique("r"), unique("INV-"))
    bad_total = invoice_lines(unique("r"), unique("INV-"), total="99.00")
    bad_qty = invoice_lines(unique("r"), unique("INV-"))
    bad_qty[1] = bad_qty[1].replace(",Pens,10,", ",Pens,ten,")
    path = write(tmp_path, [INVOICE_HEADER, *good, *bad_total, *bad_qty])
    error = refused(world.alpha, path)
    assert set(error.fields) == {"line 4", "line 7"}
    assert "total" in error.fields["line 4"] and "quantity" in error.fields["line 7"]
    with unit_of_work(world.alpha) as uow:
        report = csvio.check_file(uow, path, csvio.INVOICES)
    assert {(p.line, p.column) for p in report.problems} == {(4, "total"), (7, "quantity")}
    assert report.rows == 6 and report.tasks == 3


def test_cents_must_add_up(world, tmp_path):
    lines = invoice_lines(unique("r"), unique("INV-"))
    lines[0] = lines[0].replace(",24.97,2.50,27.47,", ",24.98,2.50,27.48,")
    error = refused(world.alpha, write(tmp_path, [INVOICE_HEADER, *lines]))
    assert "subtotal" in error.fields["line 2"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_semicolons_tabs_and_a_bom_are_understood(world, tmp_path, delimiter):
    lines = [
        line.replace(",", delimiter)
        for line in [INVOICE_HEADER, *invoice_lines(unique("r"), unique("INV-"))]
    ]
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode())
    assert run(world.alpha, path).created == 1


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("é".join([INVOICE_HEADER, ""]).encode("utf-16"), "UTF-16"),
        ((INVOICE_HEADER + "\n" + invoice_lines("r", "Café")[0]).encode("latin-1"), "not UTF-8"),
        (b"vendor|invoice_number|total\nx|y|z\n", "commas, semicolons or tabs"),
        (b"vendor,amount\nx,1\n", "missing column(s): invoice_number"),
        ((INVOICE_HEADER + ",colour\n").encode(), "unknown column(s): colour"),
        ((INVOICE_HEADER + "\n").encode(), "no rows"),
    ],
    ids=["utf16", "latin1", "pipes", "missing", "unknown", "empty"],
)
def test_unreadable_files_get_a_clear_message(world, tmp_path, content, words):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    error = refused(world.alpha, path)
    assert words in str(error.fields["file"])


def test_more_than_50000_rows_are_refused(world, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("form,source_text\n")
        for i in range(csvio.MAX_ROWS + 1):
            out.write(f"w9,row {i}\n")
    ensure_form(world.alpha)
    error = refused(world.alpha, path, csvio.DATA_ENTRY)
    assert "more than 50,000 rows" in str(error.fields["file"])


def test_data_entry_rows_are_checked_against_the_form(world, tmp_path):
    ensure_form(world.alpha)
    ref = unique("de-")
    ok = write(
        tmp_path,
        [
            "external_ref,form,source_text,tin,amount",
            f"{ref},w9,scan 1,123456789,10.50",
            ",w9,scan 2,,",
        ],
    )
    assert run(world.alpha, ok, csvio.DATA_ENTRY).created == 2
    bad = write(
        tmp_path, ["form,source_text,tin,amount", "w9,scan,12,1.234", "nope,scan,,"], name="bad.csv"
    )
    error = refused(world.alpha, bad, csvio.DATA_ENTRY)
    assert set(error.fields["line 2"]) == {"tin", "amount"}
    assert "form" in error.fields["line 3"]


def test_repeated_references_in_one_file_are_named(world, tmp_path):
    ensure_form(world.alpha)
    ref = unique("dup-")
    path = write(tmp_path, ["external_ref,form,source_text", f"{ref},w9,a", f"{ref},w9,b"])
    error = refused(world.alpha, path, csvio.DATA_ENTRY)
    assert "repeats row 2" in str(error.fields["line 3"]["external_ref"])


def test_export_escapes_formulas_and_holds_only_this_tenants_tasks(world, tmp_path):
    ensure_form(world.alpha)
    ensure_form(world.beta)
    evil = ["=HYPERLINK(1)", "+1+1", "-2", "@SUM(A1)"]
    for i, title in enumerate(evil):
        run(
            world.alpha,
            write(tmp_path, ["title,form,source_text", f'"{title}",w9,x{i}'], name=f"{i}.csv"),
            csvio.DATA_ENTRY,
        )
    marker = unique("beta-only-")
    run(
        world.beta,
        write(tmp_path, ["title,form,source_text", f"{marker},w9,x"], name="b.csv"),
        csvio.DATA_ENTRY,
    )
    out = io.StringIO()
    with unit_of_work(world.alpha) as uow:
        csvio.export_tasks(uow, {}, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    titles = {r["title"] for r in rows}
    for title in evil:
        assert "'" + title in titles and title not in titles
    assert marker not in out.getvalue()


def test_template_files_import_cleanly(world, tmp_path):
    ensure_form(world.alpha)
    for template in csvio.TEMPLATES.values():
        fields = ["tin"] if template is csvio.DATA_ENTRY else None
        empty = csvio.template_csv(template, fields)
        assert empty.count("\n") == 1 and "external_ref" in empty  # the header only
        text = csvio.template_csv(template, fields, example=True)
        text = text.replace("AP-1001", unique("AP-")).replace("INV-1001", unique("INV-"))
        path = tmp_path / f"{template.name}.csv"
        path.write_text(text)
        assert run(world.alpha, path, template).created == 1


def test_an_invoices_rows_must_agree_and_stay_together(world, tmp_path):
    number = unique("INV-")
    lines = invoice_lines(unique("r"), number)
    lines[1] = lines[1].replace(f",{number},,,,", f",{number},2026-11-03,,,")  # another date
    split = invoice_lines(unique("r"), unique("INV-"))
    path = write(
        tmp_path,
        [INVOICE_HEADER, *lines, split[0], *invoice_lines(unique("r"), unique("INV-")), split[1]],
    )
    error = refused(world.alpha, path)
    assert "invoice_date" in error.fields["line 3"]
    assert "differs from the invoice's first row (line 2)" in str(error.fields["line 3"])
    assert "already started at line 4" in str(error.fields["line 7"]["invoice_number"])


def test_tax_total_errors_name_the_tax_total_column(world, tmp_path):
    lines = invoice_lines(unique("r"), unique("INV-"))
    lines[0] = lines[0].replace(",24.97,2.50,27.47,", ",24.97,2.49,27.46,")
    error = refused(world.alpha, write(tmp_path, [INVOICE_HEADER, *lines]))
    assert set(error.fields["line 2"]) == {"tax_total"}
    assert "2.50" in str(error.fields["line 2"]["tax_total"])


def test_the_preview_counts_references_already_submitted(world, tmp_path):
    path = write(tmp_path, [INVOICE_HEADER, *invoice_lines(unique("r"), unique("INV-"))])
    run(world.alpha, path)
    with unit_of_work(world.alpha) as uow:
        report = csvio.check_file(uow, path, csvio.INVOICES)
    assert report.ok and (report.tasks, report.existing) == (1, 1)


def test_a_nul_character_is_named_not_stored(world, tmp_path):
    lines = invoice_lines(unique("r"), unique("INV-"))
    lines[1] = lines[1].replace("Pens", "Pe\x00ns")
    error = refused(world.alpha, write(tmp_path, [INVOICE_HEADER, *lines]))
    assert "description: a NUL character" in str(error.fields["line 3"])
