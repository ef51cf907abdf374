"""``opsmon ingest FILE...``: exit codes, the stable ``--format json`` document, dry runs, the progress bar.

(Named test_ingest_cli.py: tests/test_cli.py already holds the basename test_cli.)
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from test_store import REGISTRY_ROWS, A, B, month, monthly, registry

from opsmon.access import add_user
from opsmon.cli import cli
from opsmon.ingest.api import ingest_bytes
from opsmon.sql import db

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def url(engine) -> str:
    """DATABASE_URL of a fresh database holding the registry."""
    assert ingest_bytes(registry(*REGISTRY_ROWS), "机构名录.csv", engine=engine).status == "accepted"
    yield engine.url.render_as_string(hide_password=False)
    db.dispose_all()  # the CLI's pooled engine, before the database is dropped


@pytest.fixture
def files(tmp_path: Path):
    """Write named files into a temporary folder; returns their paths as strings."""

    def write(**contents: bytes) -> list[str]:
        paths = []
        for name, content in contents.items():
            path = tmp_path / name.replace("__", ".")
            path.write_bytes(content)
            paths.append(str(path))
        return paths

    return write


def run(url: str, *args: str):
    return CliRunner().invoke(cli, ["ingest", *args], env={"DATABASE_URL": url})


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


GOOD = monthly(month())
BAD = monthly(month(total_revenue="一千万"))


def test_accepted_files_exit_0_and_are_stored(url, engine, files):
    result = run(url, *files(march__csv=GOOD, b__csv=monthly(month(hospital_code=B))))
    assert result.exit_code == 0, result.output
    assert "march.csv: accepted (monthly, 1 rows, 1 new revisions)" in result.stdout
    assert "2 files: 2 accepted" in result.stdout
    assert count(engine, "SELECT count(*) FROM monthly_values") == 2


def test_an_unchanged_file_exits_0(url, engine, files):
    paths = files(march__csv=GOOD)
    run(url, *paths)
    result = run(url, *paths)
    assert result.exit_code == 0
    assert "march.csv: unchanged (monthly, 1 rows, 0 new revisions)" in result.stdout


def test_any_rejected_file_exits_1_and_the_others_are_still_loaded(url, engine, files):
    result = run(url, *files(bad__csv=BAD, b__csv=monthly(month(hospital_code=B))))
    assert result.exit_code == 1
    assert "bad.csv: rejected (monthly, 1 rows)" in result.stdout
    assert "  错误 [bad_number] 第 2 行“收入合计”的值“一千万”不是有效数字" in result.stdout
    assert "2 files: 1 accepted, 1 rejected" in result.stdout
    assert count(engine, "SELECT count(*) FROM monthly_values") == 1  # B's file only
    assert count(engine, "SELECT count(*) FROM submissions WHERE status = 'rejected'") == 1


def test_json_is_one_document_in_the_documented_shape(url, files):
    result = run(url, "--format", "json", *files(good__csv=GOOD, bad__csv=BAD, empty__csv=b""))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"files": [
        {"file": "good.csv", "kind": "monthly", "status": "accepted", "rows": 1, "revisions_created": 1,
         "errors": [], "warnings": []},
        {"file": "bad.csv", "kind": "monthly", "status": "rejected", "rows": 1, "revisions_created": 0,
         "errors": [{"row": 2, "column": "total_revenue", "value": "一千万", "code": "bad_number",
                     "message": "第 2 行“收入合计”的值“一千万”不是有效数字"}],
         "warnings": []},
        {"file": "empty.csv", "kind": None, "status": "rejected", "rows": 0, "revisions_created": 0,
         "errors": [{"row": None, "column": None, "value": None, "code": "empty_file",
                     "message": "文件是空的，没有任何内容，请检查是否选错了文件"}],
         "warnings": []},
    ]}


def test_json_carries_warnings_with_a_null_column_for_a_header_problem(url, files):
    result = run(url, "--format", "json", *files(note__csv=monthly(month(), extra={"备注": "无"})))
    assert result.exit_code == 0
    (entry,) = json.loads(result.stdout)["files"]
    assert entry["status"] == "accepted"
    assert [(w["row"], w["column"], w["value"], w["code"]) for w in entry["warnings"]] == [
        (1, None, "备注", "unknown_column")]


def test_json_of_all_accepted_files_exits_0(url, files):
    result = run(url, "--format", "json", *files(good__csv=GOOD))
    assert result.exit_code == 0
    assert [f["status"] for f in json.loads(result.stdout)["files"]] == ["accepted"]


def test_dry_run_reports_what_would_happen_and_stores_and_logs_nothing(url, engine, files):
    before = count(engine, "SELECT count(*) FROM submissions")
    result = run(url, "--dry-run", *files(march__csv=GOOD))
    assert result.exit_code == 0
    assert "march.csv: would be accepted (monthly, 1 rows, 1 new revisions)" in result.stdout
    assert count(engine, "SELECT count(*) FROM monthly_values") == 0
    assert count(engine, "SELECT count(*) FROM submissions") == before


def test_dry_run_of_a_bad_file_exits_1(url, engine, files):
    result = run(url, "--dry-run", "--format", "json", *files(bad__csv=BAD))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["files"][0]["status"] == "rejected"
    assert count(engine, "SELECT count(*) FROM submissions WHERE status = 'rejected'") == 0


def test_as_records_the_user(url, engine, files):
    add_user(engine, "jilin-finance", "a-long-password", "analyst", "220000")
    assert run(url, "--as", "jilin-finance", *files(march__csv=GOOD)).exit_code == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT username, file_name FROM submissions WHERE kind = 'monthly'")).all() == [
            ("jilin-finance", "march.csv")]


def test_as_a_hospital_user_applies_its_scope_and_kinds(url, engine, files):
    add_user(engine, "clerk-a", "a-long-password", "hospital", A)
    result = run(url, "--as", "clerk-a", "--format", "json", *files(b__csv=monthly(month(hospital_code=B))))
    assert result.exit_code == 1
    assert [e["code"] for e in json.loads(result.stdout)["files"][0]["errors"]] == ["out_of_scope"]
    result = run(url, "--as", "clerk-a", "--format", "json", *files(reg__csv=registry(*REGISTRY_ROWS)))
    assert [e["code"] for e in json.loads(result.stdout)["files"][0]["errors"]] == ["kind_not_permitted"]
    assert count(engine, "SELECT count(*) FROM monthly_values") == 0
    assert run(url, "--as", "clerk-a", *files(a__csv=GOOD)).exit_code == 0  # its own hospital's row
    with engine.connect() as conn:  # every stored attempt is in the audit log, refused ones too
        logged = conn.execute(sa.text("SELECT details ->> 'status' FROM audit_log WHERE action = 'upload' "
                                      "AND username = 'clerk-a' ORDER BY audit_id")).scalars().all()
    assert logged == ["rejected", "rejected", "accepted"]


def test_as_a_user_sees_no_figure_of_a_hospital_outside_its_scope(url, engine, files):
    """The security review's finding: an out-of-scope row was rejected, yet its warnings quoted stored history."""
    assert run(url, *files(feb__csv=monthly(month(period="2025-02")))).exit_code == 0  # A's February: 500 beds
    jump = files(march__csv=monthly(month(open_beds="900")))  # A's March, 80 % more beds: a warning against February
    as_operator = json.loads(run(url, "--dry-run", "--format", "json", *jump).stdout)["files"][0]
    assert [w["code"] for w in as_operator["warnings"]] == ["beds_jump"]  # the check has teeth
    assert "2025-02" in as_operator["warnings"][0]["message"]
    add_user(engine, "clerk-b", "a-long-password", "hospital", B)
    result = run(url, "--as", "clerk-b", "--dry-run", "--format", "json", *jump)
    entry = json.loads(result.stdout)["files"][0]
    assert result.exit_code == 1 and [e["code"] for e in entry["errors"]] == ["out_of_scope"]
    assert entry["warnings"] == [] and "2025-02" not in result.stdout and "500" not in result.stdout
    # The look is traceable though nothing was stored: dry runs are in the audit log, as previews.
    with engine.connect() as conn:
        previews = conn.execute(sa.text("SELECT username, details ->> 'status' FROM audit_log "
                                        "WHERE action = 'upload.preview' ORDER BY audit_id")).all()
    assert previews == [("cli", "accepted"), ("clerk-b", "rejected")]


def test_as_an_unknown_or_viewing_user_is_refused(url, engine, files):
    result = run(url, "--as", "nobody", *files(march__csv=GOOD))
    assert result.exit_code == 1 and "no active user 'nobody'" in result.output
    add_user(engine, "boss", "a-long-password", "leader", "220000")
    result = run(url, "--as", "boss", *files(march__csv=GOOD))
    assert result.exit_code == 1 and "may not upload" in result.output
    assert count(engine, "SELECT count(*) FROM submissions WHERE kind = 'monthly'") == 0


def test_kind_is_applied_to_every_file(url, files):
    result = run(url, "--kind", "registry", "--format", "json", *files(march__csv=GOOD))
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)["files"]
    assert (entry["kind"], entry["errors"][0]["code"]) == ("registry", "wrong_kind")


def test_an_xlsx_with_date_cells_loads_from_the_command_line(url, engine):
    result = run(url, str(FIXTURES / "monthly_title_note.xlsx"))
    assert result.exit_code == 0, result.output
    assert count(engine, "SELECT count(*) FROM monthly_values WHERE period = '2025-03-01'") == 2


@pytest.mark.parametrize("args", [
    [],  # no file
    ["no-such-file.csv"],
    ["--kind", "annual", "{file}"],
    ["--format", "xml", "{file}"],
    ["--as", "  ", "{file}"],
    ["--bogus", "{file}"],
])
def test_usage_errors_exit_2_and_store_nothing(url, engine, files, args):
    (path,) = files(march__csv=GOOD)
    result = run(url, *[a.replace("{file}", path) for a in args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert count(engine, "SELECT count(*) FROM submissions WHERE kind = 'monthly'") == 0


def test_a_database_that_cannot_be_reached_exits_1_with_a_message_and_no_document(url, files):
    unreachable = sa.engine.make_url(url).set(database="opsmon_no_such_database").render_as_string(
        hide_password=False)
    result = run(unreachable, "--format", "json", *files(march__csv=GOOD))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "database error" in result.stderr


# --- The progress bar: on a terminal only ----------------------------------------------------------


def _command(url: str, paths: list[str]) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, "-m", "opsmon.cli", "ingest", *paths], {**os.environ, "DATABASE_URL": url}


def test_a_multi_file_load_shows_a_progress_bar_on_a_terminal(url, files):
    paths = files(a__csv=GOOD, b__csv=monthly(month(hospital_code=B)))
    command, env = _command(url, paths)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    text = output.decode("utf-8", "replace")
    assert "ingest  [" in text and "100%" in text  # click's bar: label, bar, percentage
    assert "a.csv: accepted" in text and "2 files: 2 accepted" in text


def test_no_progress_bar_when_the_output_is_not_a_terminal(url, files):
    command, env = _command(url, files(a__csv=GOOD, b__csv=monthly(month(hospital_code=B))))
    done = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert done.stdout.decode().splitlines() == [
        "a.csv: accepted (monthly, 1 rows, 1 new revisions)",
        "b.csv: accepted (monthly, 1 rows, 1 new revisions)",
        "2 files: 2 accepted",
    ]

