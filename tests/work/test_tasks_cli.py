"""`flask tasks import|export` from the command line."""

from tests.support.factories import ensure_form, task_count
from tests.support.helpers import unique


def test_import_shows_progress_and_creates_the_tasks(app, world, tmp_path):
    ensure_form(world.alpha)
    marker = unique("cli-")
    path = tmp_path / "records.csv"
    path.write_text(
        "title,form,source_text\n" + "".join(f"{marker} {i},w9,scan {i}\n" for i in range(30))
    )
    before = task_count(world.alpha)
    result = app.test_cli_runner().invoke(
        args=["tasks", "import", "--tenant", world.alpha, "--template", "data_entry", str(path)]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "30 task(s) created" in result.stdout
    assert "checking" in result.stderr and "importing" in result.stderr  # the progress bars
    assert task_count(world.alpha) == before + 30

    exported = app.test_cli_runner().invoke(
        args=["tasks", "export", "--tenant", world.alpha, "--status", "new"]
    )
    assert exported.exit_code == 0
    assert exported.stdout.startswith("id,external_ref,type,title")
    assert f"{marker} 29" in exported.stdout


def test_a_bad_file_prints_every_bad_line_and_writes_nothing(app, world, tmp_path):
    ensure_form(world.alpha)
    path = tmp_path / "bad.csv"
    path.write_text("form,source_text,tin\nw9,ok,123456789\nw9,bad,12\nnope,x,\n")
    before = task_count(world.alpha)
    result = app.test_cli_runner().invoke(
        args=["tasks", "import", "--tenant", world.alpha, "--template", "data_entry", str(path)]
    )
    assert result.exit_code == 2
    assert "line 3 tin:" in result.stderr and "line 4 form:" in result.stderr
    assert "nothing was created" in result.stderr
    assert task_count(world.alpha) == before


def test_unknown_tenant_is_a_clear_error(app, world, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("form,source_text\nw9,x\n")
    result = app.test_cli_runner().invoke(
        args=["tasks", "import", "--tenant", "nosuch", "--template", "data_entry", str(path)]
    )
    assert result.exit_code == 2 and "--tenant" in result.stderr


def test_export_to_a_file_escapes_formulas_and_names_a_bad_status(app, world, tmp_path):
    ensure_form(world.alpha)
    ensure_form(world.beta)
    runner = app.test_cli_runner()
    for tenant, title in ((world.alpha, "=1+2"), (world.beta, unique("beta-only-"))):
        path = tmp_path / f"{tenant}.csv"
        path.write_text(f'title,form,source_text\n"{title}",w9,scan\n')
        result = runner.invoke(
            args=["tasks", "import", "--tenant", tenant, "--template", "data_entry", str(path)]
        )
        assert result.exit_code == 0, result.stderr
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["tasks", "export", "--tenant", world.alpha, "-o", str(out)])
    assert result.exit_code == 0 and "task(s) exported" in result.stderr
    text = out.read_text()
    assert ",'=1+2," in text and "beta-only-" not in text
    bad = runner.invoke(args=["tasks", "export", "--tenant", world.alpha, "--status", "bogus"])
    assert bad.exit_code == 2 and "--status" in bad.stderr
