"""Storage semantics through ``ingest_bytes`` against real PostgreSQL (spec/submission-format.md, "Revisions").

A registry file, then monthly and progress files. Accepted rows that differ from the current
revision become a new revision, earlier revisions stay listed; identical re-submissions store
nothing; a file with any error stores nothing — and every attempt is logged exactly once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import threading
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa

from opsmon.ingest import api, store, uscc
from opsmon.ingest.parse import parse
from opsmon.ingest.store import values
from opsmon.sql import db
from opsmon.ingest.api import ingest_bytes, list_revisions
from opsmon.ingest.fields import FIELDS, MONTHLY_V2

FIXTURES = Path(__file__).parent / "fixtures"
CHINA = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2025, 4, 15)

A = uscc.make("220102", "41234567")  # 12220102412345670G, 南关区 (the stored fixtures' HOSPITAL_A)
B = uscc.make("220103", "41234568")  # 12220103412345689U, 宽城区 (HOSPITAL_B)
C = uscc.make("220104", "41234569")  # 朝阳区
UNREGISTERED = uscc.make("220106", "41234570")

REGISTRY_HEADER = ["机构代码", "机构名称", "所在县区代码", "医院等级", "机构类别", "隶属关系", "主管部门",
                   "高质量发展试点医院", "预算管理医院", "医联体牵头医院代码"]
REGISTRY_ROWS = [
    [A, "长春市第一医院", "220102", "三级甲等", "综合医院", "市属", "卫生健康委", "是", "是", ""],
    [B, "宽城区人民医院", "220103", "二级甲等", "综合医院", "县属", "卫生健康委", "否", "否", A],
    [C, "朝阳区中医院", "220104", "二级乙等", "中医医院", "县属", "中医药局", "否", "否", A],
]

# One hospital-month (every accounting identity holds), as a clerk types it, by field code.
MONTH = {
    "hospital_code": A, "period": "2025-03",
    "total_revenue": "11,500,000.89", "medical_revenue": "10,000,000.89", "outpatient_revenue": "6,000,000.45",
    "inpatient_revenue": "4,000,000.44", "drug_revenue": "3,000,000.00", "consumables_revenue": "1,000,000.00",
    "exam_revenue": "1,000,000.00", "lab_revenue": "1,000,000.00", "fiscal_subsidy_revenue": "1,000,000.00",
    "other_revenue": "500,000.00", "total_expense": "9,500,000.00", "business_expense": "8,000,000.00",
    "admin_expense": "1,000,000.00", "other_expense": "500,000.00", "personnel_expense": "4,000,000.00",
    "drug_expense": "2,000,000.00", "consumables_expense": "500,000.00", "depreciation_expense": "-",
    "energy_expense": "200,000.00", "total_assets": "100,000,000.00", "current_assets": "50,000,000.00",
    "cash": "20,000,000.00", "total_liabilities": "40,000,000.00", "current_liabilities": "20,000,000.00",
    "long_term_loans": "10,000,000.00", "construction_debt": "5,000,000.00", "salary_arrears": "0.00",
    "outpatient_visits": "30,000", "discharges": "1,500", "inpatient_bed_days": "13,500", "open_beds": "500",
    "doctors": "200", "nurses": "300",
}

PROGRESS = {"hospital_code": A, "period": "2025-03", "ops_committee": "是", "ops_department": "是",
            "chief_accountant": "否", "ops_platform_status": "建设中", "pilot_projects_year": "2",
            "optimized_processes": "10", "caliber_mapping": "进行中", "risk_register": "是",
            "internal_control_review": "否"}


# The columns of a v1 monthly file (MONTH's); FIELDS["monthly"] adds the optional v2 columns.
V1_MONTHLY = [f for f in FIELDS["monthly"] if f.code not in MONTHLY_V2]


def month(**changes: str) -> dict[str, str]:
    return {**MONTH, **changes}


def table(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def monthly(*months: dict[str, str], drop: tuple[str, ...] = (), extra: dict[str, str] | None = None,
            encoding: str = "utf-8", v2: bool = False) -> bytes:
    """A monthly CSV: Chinese headers with units on row 1, one row per month from row 2.

    The v1 columns, or with *v2* every column of the contract (the optional v2 ones last).
    """
    fields = [f for f in (FIELDS["monthly"] if v2 else V1_MONTHLY) if f.code not in drop]
    extra = extra or {}
    return table([[f.header for f in fields] + list(extra)]
                 + [[m.get(f.code, "") for f in fields] + list(extra.values()) for m in months], encoding)


def progress(*rows: dict[str, str]) -> bytes:
    fields = FIELDS["progress"]
    return table([[f.header for f in fields]] + [[r.get(f.code, "") for f in fields] for r in rows])


def registry(*rows: list[str]) -> bytes:
    return table([REGISTRY_HEADER, *rows])


def ingest(engine, content: bytes, name: str = "快报.csv", **kwargs):
    return ingest_bytes(content, name, engine=engine, today=TODAY, **kwargs)


def where(problems) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.column, p.code) for p in problems]


def query(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


# Every row of the tables a submission may write, in key order.
CHECKSUM_SQL = {
    "monthly_values": "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY hospital_code, period, "
                      "revision), '')) FROM monthly_values t",
    "progress_values": "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY hospital_code, period, "
                       "revision), '')) FROM progress_values t",
    "hospitals": "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY hospital_code), '')) "
                 "FROM hospitals t",
    "data_state": "SELECT version, '' FROM data_state",
}


def snapshot(engine) -> dict[str, tuple[int, str]]:
    """Row counts and checksums of the stored data (and the data version caches key on)."""
    return {name: tuple(query(engine, sql)[0]) for name, sql in CHECKSUM_SQL.items()}


def log(engine) -> list[sa.Row]:
    return query(engine, "SELECT * FROM submissions ORDER BY submission_id")


@pytest.fixture
def loaded(engine):
    """The registry (A, B, C) and A's and B's March 2025 report, as revision 1."""
    assert ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv", username="admin").status == "accepted"
    first = ingest(engine, monthly(month(), month(hospital_code=B)), "3月快报.csv", username="clerk-a")
    assert (first.status, first.revisions_created) == ("accepted", 2)
    return engine


# --- A registry, then monthly files: revisions -----------------------------------------------------


def test_a_registry_file_creates_the_hospitals(engine):
    result = ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    assert (result.kind, result.status, result.rows, result.revisions_created) == ("registry", "accepted", 3, 3)
    assert query(engine, "SELECT hospital_code, name, adcode, level, is_pilot, alliance_lead_code "
                         "FROM hospitals ORDER BY hospital_code") == [
        (A, "长春市第一医院", "220102", "三级甲等", True, None),
        (B, "宽城区人民医院", "220103", "二级甲等", False, A),
        (C, "朝阳区中医院", "220104", "二级乙等", False, A),
    ]


def test_a_registry_reload_writes_only_the_hospitals_that_changed(loaded):
    renamed = [A, "长春市第一人民医院", *REGISTRY_ROWS[0][2:]]
    result = ingest(loaded, registry(renamed, *REGISTRY_ROWS[1:]), "机构名录.csv")
    assert (result.status, result.revisions_created) == ("accepted", 1)
    assert query(loaded, "SELECT name FROM hospitals WHERE hospital_code = :a", a=A) == [("长春市第一人民医院",)]
    again = ingest(loaded, registry(renamed, *REGISTRY_ROWS[1:]), "机构名录.csv")
    assert (again.status, again.revisions_created) == ("unchanged", 0)


def test_the_first_accepted_row_of_a_hospital_and_period_is_revision_1(loaded):
    assert query(loaded, "SELECT hospital_code, to_char(period, 'YYYY-MM'), revision, is_current, total_revenue, "
                         "depreciation_expense FROM monthly_values ORDER BY hospital_code") == [
        (A, "2025-03", 1, True, Decimal("11500000.89"), None),  # "-" is missing, never zero
        (B, "2025-03", 1, True, Decimal("11500000.89"), None),
    ]


def test_a_changed_row_becomes_revision_2_and_revision_1_is_still_listed(loaded):
    corrected = month(other_revenue="600,000.00", total_revenue="11,600,000.89")
    result = ingest(loaded, monthly(corrected), "3月快报（更正）.csv", username="clerk-b")
    assert (result.status, result.revisions_created) == ("accepted", 1)

    revisions = list_revisions(loaded, A, "2025-03")
    assert list(revisions.columns) == ["period", "revision", "is_current", "submission_id", "username",
                                       "file_name", "received_at"]
    assert revisions[["period", "revision", "is_current", "username", "file_name"]].values.tolist() == [
        ["2025-03", 1, False, "clerk-a", "3月快报.csv"],
        ["2025-03", 2, True, "clerk-b", "3月快报（更正）.csv"],
    ]
    assert revisions["submission_id"].iloc[1] == result.submission_id
    assert query(loaded, "SELECT revision, total_revenue FROM monthly_values WHERE hospital_code = :a "
                         "ORDER BY revision", a=A) == [(1, Decimal("11500000.89")),
                                                       (2, Decimal("11600000.89"))]
    # B's row was not in the correction: untouched.
    assert list_revisions(loaded, B)["revision"].tolist() == [1]


def test_only_the_rows_that_differ_become_revisions(loaded):
    result = ingest(loaded, monthly(month(doctors="201"), month(hospital_code=B)), "3月快报.csv")
    assert (result.status, result.rows, result.revisions_created) == ("accepted", 2, 1)
    assert list_revisions(loaded, A)["revision"].tolist() == [1, 2]
    assert list_revisions(loaded, B)["revision"].tolist() == [1]


def test_a_third_revision_follows_the_second(loaded):
    ingest(loaded, monthly(month(doctors="201")), "x.csv")
    ingest(loaded, monthly(month(doctors="202")), "y.csv")
    revisions = list_revisions(loaded, A)
    assert revisions[["revision", "is_current", "file_name"]].values.tolist() == [
        [1, False, "3月快报.csv"], [2, False, "x.csv"], [3, True, "y.csv"]]
    assert query(loaded, "SELECT doctors FROM monthly_values WHERE hospital_code = :a AND is_current", a=A) == [(202,)]


def test_going_back_to_earlier_values_is_a_new_revision(loaded):
    ingest(loaded, monthly(month(doctors="201")), "x.csv")
    back = ingest(loaded, monthly(month()), "y.csv")
    assert (back.status, back.revisions_created) == ("accepted", 1)
    assert list_revisions(loaded, A)["revision"].tolist() == [1, 2, 3]


def test_a_value_identical_resubmission_is_unchanged_and_stores_nothing(loaded):
    before = snapshot(loaded)
    # The same values written differently: GBK, codes instead of labels, no thousands separators.
    same = {k: v.replace(",", "") for k, v in month().items()}
    rows = [[f.code for f in V1_MONTHLY], [same[f.code] for f in V1_MONTHLY]]
    result = ingest(loaded, table(rows, "gbk"), "再次报送.csv")
    assert (result.status, result.rows, result.revisions_created, result.errors) == ("unchanged", 1, 0, [])
    assert snapshot(loaded) == before
    assert log(loaded)[-1].status == "unchanged"


def test_a_byte_identical_resubmission_is_unchanged(loaded):
    before = snapshot(loaded)
    result = ingest(loaded, monthly(month(), month(hospital_code=B)), "3月快报.csv")
    assert (result.status, result.revisions_created) == ("unchanged", 0)
    assert snapshot(loaded) == before


def test_progress_reports_have_revisions_too(loaded):
    assert ingest(loaded, progress(PROGRESS), "进展.csv").revisions_created == 1
    assert ingest(loaded, progress(PROGRESS), "进展.csv").status == "unchanged"
    later = ingest(loaded, progress({**PROGRESS, "ops_platform_status": "已应用"}), "进展.csv")
    assert (later.status, later.revisions_created) == ("accepted", 1)
    revisions = list_revisions(loaded, A, "2025-03", kind="progress")
    assert revisions[["revision", "is_current"]].values.tolist() == [[1, False], [2, True]]
    assert query(loaded, "SELECT ops_platform_status FROM progress_values WHERE is_current") == [("in_use",)]


def test_an_accepted_file_bumps_the_data_version_and_an_unchanged_one_does_not(loaded):
    version = snapshot(loaded)["data_state"]
    ingest(loaded, monthly(month()), "same.csv")
    assert snapshot(loaded)["data_state"] == version
    ingest(loaded, monthly(month(doctors="201")), "changed.csv")
    assert snapshot(loaded)["data_state"][0] == version[0] + 1


def test_two_simultaneous_uploads_for_one_hospital_and_period_become_consecutive_revisions(loaded):
    results = {}

    def upload(doctors: str) -> None:
        results[doctors] = ingest(loaded, monthly(month(doctors=doctors)), f"{doctors}.csv")

    threads = [threading.Thread(target=upload, args=(d,)) for d in ("201", "202")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status for r in results.values()} == {"accepted"}
    rows = query(loaded, "SELECT revision, is_current FROM monthly_values WHERE hospital_code = :a "
                         "ORDER BY revision", a=A)
    assert rows == [(1, False), (2, False), (3, True)]


@pytest.fixture
def writing(loaded):
    """A hospital-A upload in the middle of being stored: its rows written, its transaction open."""
    frame = parse(monthly(month(doctors="250")), "A在途.csv").frame
    with loaded.connect() as conn, conn.begin() as transaction:
        sid = store.open_submission(conn, kind="monthly", username="clerk-a", file_name="A在途.csv",
                                    sha256="0" * 64, size_bytes=1, received_at=None)
        store.store_values(conn, "monthly", frame, sid)
        yield loaded
        transaction.rollback()


def impatient(engine):
    """The same database, on connections that give up after waiting 2 s for a lock."""
    return db.create_engine(engine.url, poolclass=sa.NullPool, connect_args={"options": "-c lock_timeout=2s"})


def test_an_upload_of_another_hospital_stores_while_one_hospital_is_being_stored(writing):
    result = ingest(impatient(writing), monthly(month(hospital_code=B, doctors="99")), "B.csv")
    assert (result.status, result.revisions_created) == ("accepted", 1)
    assert query(writing, "SELECT revision FROM monthly_values WHERE hospital_code = :b AND is_current", b=B) \
        == [(2,)]


def test_an_upload_of_the_same_hospital_waits_for_the_one_being_stored(writing):
    with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
        ingest(impatient(writing), monthly(month(doctors="99")), "A又一份.csv")
    assert query(writing, "SELECT count(*) FROM monthly_values WHERE hospital_code = :a", a=A) == [(1,)]


def test_a_bulk_file_waits_for_every_upload_being_stored(writing, monkeypatch):
    # Files of more hospitals than the per-hospital locks take lock the table instead.
    monkeypatch.setattr(values, "HOSPITAL_LOCKS_MAX", 1)
    with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
        ingest(impatient(writing), monthly(month(hospital_code=B), month(hospital_code=C)), "批量.csv")
    assert query(writing, "SELECT count(*) FROM monthly_values WHERE hospital_code = :c", c=C) == [(0,)]


# --- Excel files: date cells in the period column, end to end ------------------------------------


def test_an_xlsx_whose_periods_are_excel_date_cells_is_stored(engine):
    ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    result = ingest(engine, (FIXTURES / "monthly_title_note.xlsx").read_bytes(), "快报.xlsx")
    assert (result.kind, result.status, result.rows, result.revisions_created) == ("monthly", "accepted", 2, 2)
    assert query(engine, "SELECT hospital_code, period, fiscal_subsidy_revenue, doctors FROM monthly_values "
                         "ORDER BY hospital_code") == [
        (A, dt.date(2025, 3, 1), Decimal("1000000.00"), 200),
        (B, dt.date(2025, 3, 1), Decimal("1000000.00"), 200),
    ]
    # The same month typed as text in a GBK CSV holds the same values: nothing new.
    same = ingest(engine, (FIXTURES / "monthly_excel_gbk.csv").read_bytes(), "3月快报.csv")
    assert (same.status, same.revisions_created) == ("unchanged", 0)


def test_an_xlsx_date_cell_in_chinese_date_format_on_the_last_day_of_the_month(engine):
    ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([f.header for f in V1_MONTHLY])
    numbers = {k: float(v.replace(",", "")) for k, v in MONTH.items() if k not in ("hospital_code", "period", "depreciation_expense")}
    ws.append([A, dt.datetime(2025, 3, 31, 15, 0)] + [numbers.get(f.code) for f in V1_MONTHLY[2:]])
    ws["B2"].number_format = '[$-804]yyyy"年"m"月";@'
    buf = io.BytesIO()
    wb.save(buf)
    result = ingest(engine, buf.getvalue(), "快报.xlsx")
    assert (result.status, result.revisions_created) == ("accepted", 1)
    assert query(engine, "SELECT period FROM monthly_values") == [(dt.date(2025, 3, 1),)]


# --- Every attempt is logged -----------------------------------------------------------------------


def test_every_attempt_is_logged_with_user_file_hash_counts_and_problems(loaded):
    start = len(log(loaded))
    changed = monthly(month(doctors="201"), month(hospital_code=B), extra={"备注": "更正医师数"})
    bad = monthly(month(total_revenue="一千万"))
    results = [ingest(loaded, changed, "更正.csv", username="clerk-b"),
               ingest(loaded, changed, "更正.csv", username="clerk-b"),
               ingest(loaded, bad, "错误.csv", username="clerk-c")]
    assert [r.status for r in results] == ["accepted", "unchanged", "rejected"]

    entries = log(loaded)[start:]
    assert [(e.status, e.kind, e.username, e.file_name) for e in entries] == [
        ("accepted", "monthly", "clerk-b", "更正.csv"),
        ("unchanged", "monthly", "clerk-b", "更正.csv"),
        ("rejected", "monthly", "clerk-c", "错误.csv"),
    ]
    assert [e.sha256 for e in entries] == [hashlib.sha256(changed).hexdigest()] * 2 + [hashlib.sha256(bad).hexdigest()]
    assert [e.size_bytes for e in entries] == [len(changed), len(changed), len(bad)]
    assert [(e.rows_total, e.rows_accepted, e.revisions_created) for e in entries] == [(2, 2, 1), (2, 2, 0), (1, 0, 0)]
    assert [e.submission_id for e in entries] == [r.submission_id for r in results]
    assert all(e.finished_at is not None for e in entries)
    # The extra column is reported as a warning and kept with both submissions that had it.
    for e in entries[:2]:
        assert [(w["row"], w["column"], w["code"]) for w in e.warnings] == [(1, None, "unknown_column")]
        assert "备注" in e.warnings[0]["message_zh"] and e.errors == []
    assert [(x["row"], x["column"], x["code"]) for x in entries[2].errors] == [(2, "total_revenue", "bad_number")]


def test_plausibility_warnings_never_block_and_are_stored(loaded):
    april = month(period="2025-04", construction_debt="5,000.00")  # 元 typed as 千元: ~1/1000 of March
    result = ingest_bytes(monthly(april), "4月快报.csv", engine=loaded, today=dt.date(2025, 5, 15))
    assert (result.status, result.revisions_created) == ("accepted", 1)
    assert where(result.warnings) == [(2, "construction_debt", "unit_slip")]
    stored = log(loaded)[-1].warnings
    assert [(w["row"], w["column"], w["code"]) for w in stored] == [(2, "construction_debt", "unit_slip")]
    assert "千元" in stored[0]["message_zh"]


def test_the_submissions_log_can_be_read_back(loaded):
    ingest(loaded, monthly(month(total_revenue="x")), "坏.csv", username="clerk-c")
    recent = api.list_submissions(loaded, limit=2)
    assert recent[["status", "file_name", "n_errors"]].values.tolist() == [["rejected", "坏.csv", 1],
                                                                           ["accepted", "3月快报.csv", 0]]
    detail = api.get_submission(loaded, int(recent["submission_id"].iloc[0]))
    assert [(e["row"], e["column"], e["code"]) for e in detail["errors"]] == [(2, "total_revenue", "bad_number")]
    assert api.get_submission(loaded, 10**9) is None


def test_a_load_that_dies_leaves_a_failed_entry_and_stores_nothing(loaded, monkeypatch):
    before = snapshot(loaded)

    def crash(*args, **kwargs):
        raise RuntimeError("the server went away")

    monkeypatch.setattr(store, "store_values", crash)
    with pytest.raises(RuntimeError):
        ingest(loaded, monthly(month(doctors="201")), "x.csv")
    assert log(loaded)[-1].status == "failed"
    assert snapshot(loaded) == before


# --- Dry run -----------------------------------------------------------------------------------------


def test_a_dry_run_stores_nothing_logs_nothing_and_says_what_it_would_do(loaded):
    before, entries = snapshot(loaded), len(log(loaded))
    file = monthly(month(doctors="201"), month(hospital_code=B), month(hospital_code=C))
    result = ingest(loaded, file, "预览.csv", dry_run=True)
    assert (result.status, result.rows, result.revisions_created, result.submission_id) == ("accepted", 3, 2, None)
    assert result.changes[["hospital_code", "period", "revision", "change"]].values.tolist() == [
        [A, "2025-03", 2, "changed"], [C, "2025-03", 1, "new"]]
    assert snapshot(loaded) == before
    assert len(log(loaded)) == entries
    # ...and storing it for real does exactly that.
    real = ingest(loaded, file, "预览.csv")
    assert (real.status, real.revisions_created) == ("accepted", 2)


def test_a_dry_run_of_a_registry_lists_new_and_changed_hospitals(loaded):
    before = snapshot(loaded)
    new = [UNREGISTERED, "绿园区妇幼保健院", "220106", "二级甲等", "妇幼保健院", "县属", "卫生健康委", "否", "否", ""]
    renamed = [A, "长春市第一人民医院", *REGISTRY_ROWS[0][2:]]
    result = ingest(loaded, registry(renamed, *REGISTRY_ROWS[1:], new), "名录.csv", dry_run=True)
    assert (result.status, result.revisions_created) == ("accepted", 2)
    assert result.changes[["hospital_code", "change"]].values.tolist() == [[A, "changed"], [UNREGISTERED, "new"]]
    assert snapshot(loaded) == before


def test_a_dry_run_of_a_bad_file_reports_the_errors_and_logs_nothing(loaded):
    entries = len(log(loaded))
    result = ingest(loaded, monthly(month(total_revenue="一千万")), "预览.csv", dry_run=True)
    assert (result.status, where(result.errors)) == ("rejected", [(2, "total_revenue", "bad_number")])
    assert len(log(loaded)) == entries


def test_a_dry_run_of_an_identical_file_is_unchanged(loaded):
    result = ingest(loaded, monthly(month()), "预览.csv", dry_run=True)
    assert (result.status, result.revisions_created, len(result.changes)) == ("unchanged", 0, 0)


def test_current_values_are_what_a_preview_compares_with(loaded):
    current = api.current_values(loaded, "monthly", pandas_keys([(A, "2025-03"), (C, "2025-03")]))
    assert current[["hospital_code", "period", "total_revenue", "doctors"]].values.tolist() == [
        [A, "2025-03", 11_500_000.89, 200]]
    assert current["depreciation_expense"].isna().all()


def pandas_keys(pairs):
    import pandas as pd

    return pd.DataFrame(pairs, columns=["hospital_code", "period"])


# --- Reject paths: exact row, column and code; nothing stored; one 'rejected' log entry ------------


def assert_rejected(engine, content: bytes, expected: list[tuple[int | None, str | None, str]],
                    name: str = "快报.csv", **kwargs):
    """Ingest *content*; it must be rejected with exactly *expected* errors, store nothing, log once."""
    before, entries = snapshot(engine), log(engine)
    result = ingest(engine, content, name, username="clerk", **kwargs)
    assert result.status == "rejected"
    assert where(result.errors) == expected
    assert result.revisions_created == 0
    assert snapshot(engine) == before
    after = log(engine)
    assert len(after) == len(entries) + 1
    entry = after[-1]
    assert (entry.status, entry.username, entry.file_name) == ("rejected", "clerk", name)
    assert (entry.rows_accepted, entry.revisions_created) == (0, 0)
    assert entry.sha256 == hashlib.sha256(content).hexdigest()
    assert [(e["row"], e["column"], e["code"]) for e in entry.errors] == expected
    return result


def test_reject_bad_number(loaded):
    assert_rejected(loaded, monthly(month(doctors="201"), month(hospital_code=B, total_revenue="1150万")),
                    [(3, "total_revenue", "bad_number")])


def test_reject_the_whole_file_when_only_one_row_is_bad(loaded):
    good_new_hospital = month(hospital_code=C)
    assert_rejected(loaded, monthly(good_new_hospital, month(hospital_code=B, nurses="三百")),
                    [(3, "nurses", "bad_number")])
    assert list_revisions(loaded, C).empty


def test_reject_identity_violation(loaded):
    # 门急诊收入 + 住院收入 = 10,100,000.89 ≠ 医疗收入 10,000,000.89
    assert_rejected(loaded, monthly(month(outpatient_revenue="6,100,000.45")),
                    [(2, "medical_revenue", "identity_violation")])


def test_reject_negative_value(loaded):
    assert_rejected(loaded, monthly(month(salary_arrears="-100")), [(2, "salary_arrears", "negative_value")])


def test_reject_missing_required_value(loaded):
    assert_rejected(loaded, monthly(month(energy_expense="")), [(2, "energy_expense", "missing_value")])


def test_reject_unknown_hospital(loaded):
    assert_rejected(loaded, monthly(month(), month(hospital_code=UNREGISTERED)),
                    [(3, "hospital_code", "unknown_hospital")])


def test_reject_bad_hospital_code(loaded):
    assert_rejected(loaded, monthly(month(hospital_code=A[:-1] + "X")), [(2, "hospital_code", "bad_hospital_code")])


def test_reject_duplicate_row(loaded):
    assert_rejected(loaded, monthly(month(), month(hospital_code=B), month(doctors="201")),
                    [(4, "hospital_code", "duplicate_row")])


def test_reject_future_period(loaded):
    assert_rejected(loaded, monthly(month(period="2025-05")), [(2, "period", "future_period")])


def test_reject_report_of_a_closed_hospital(loaded):
    with loaded.begin() as conn:
        conn.execute(sa.text("UPDATE hospitals SET closed_period = '2025-02-01' WHERE hospital_code = :c"), {"c": C})
    assert_rejected(loaded, monthly(month(hospital_code=C)), [(2, "period", "hospital_closed")])


def test_reject_missing_column(loaded):
    assert_rejected(loaded, monthly(month(), drop=("medical_revenue",)), [(1, "medical_revenue", "missing_column")])


def test_reject_duplicate_column(loaded):
    content = table([[f.header for f in V1_MONTHLY] + ["total_revenue"],
                     [MONTH[f.code] for f in V1_MONTHLY] + [MONTH["total_revenue"]]])
    assert_rejected(loaded, content, [(1, "total_revenue", "duplicate_column")])


def test_reject_empty_file(loaded):
    result = assert_rejected(loaded, b"", [(None, None, "empty_file")])
    assert result.kind is None and log(loaded)[-1].kind is None


def test_reject_binary_junk(loaded):
    assert_rejected(loaded, bytes(range(256)) * 4, [(None, None, "not_a_table")], name="快报.xlsx")


def test_reject_old_excel_97_workbook(loaded):
    assert_rejected(loaded, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, [(None, None, "unsupported_format")],
                    name="快报.xls")


def test_reject_file_over_the_size_limit(loaded):
    content = monthly(month())
    assert_rejected(loaded, content, [(None, None, "file_too_large")], max_bytes=len(content) - 1)


def test_reject_no_header_row(loaded):
    assert_rejected(loaded, table([["单位", "收入合计"], ["某医院", "100"]]), [(None, None, "no_header")])


def test_reject_header_without_data_rows(loaded):
    assert_rejected(loaded, monthly(), [(1, None, "no_data_rows")])


def test_reject_wrong_kind(loaded):
    assert_rejected(loaded, progress(PROGRESS), [(1, None, "wrong_kind")], kind="monthly")


def test_reject_out_of_scope_hospital(loaded):
    # A hospital user (allowed only A) uploading B's row.
    assert_rejected(loaded, monthly(month(doctors="201"), month(hospital_code=B, doctors="9")),
                    [(3, "hospital_code", "out_of_scope")], allowed_hospitals={A})


def test_reject_locked_period_naming_who_locked_it_and_when(loaded):
    with loaded.begin() as conn:
        conn.execute(sa.text("INSERT INTO period_locks (period, locked_by, locked_at, reason) "
                             "VALUES ('2025-03-01', 'finance-zhang', '2025-04-20 09:30+08', '季度结账')"))
    result = assert_rejected(loaded, monthly(month(doctors="201")), [(None, "period", "period_locked")])
    problem = result.errors[0]
    assert problem.value == "2025-03"
    assert "finance-zhang" in problem.message_zh and "2025-04-20 09:30" in problem.message_zh
    assert "finance-zhang" in problem.message_en and "2025-04-20 09:30" in problem.message_en
    # Other periods stay open.
    assert ingest(loaded, monthly(month(period="2025-02")), "2月.csv").status == "accepted"


def test_reject_bad_progress_value(loaded):
    assert_rejected(loaded, progress({**PROGRESS, "ops_platform_status": "差不多建好了"}),
                    [(2, "ops_platform_status", "bad_value")], name="进展.csv")


def test_reject_registry_with_unknown_county(loaded):
    bad = [UNREGISTERED, "绿园区妇幼保健院", "220100", "二级甲等", "妇幼保健院", "县属", "卫生健康委", "否", "否", ""]
    assert_rejected(loaded, registry(*REGISTRY_ROWS, bad), [(5, "adcode", "unknown_adcode")], name="名录.csv")


# --- Timeliness: the due day, and received_at of the first accepted revision ------------------------


def test_the_due_date_is_the_tenth_of_the_next_month_unless_configured(engine):
    assert api.due_date_for(engine, "2025-03") == dt.date(2025, 4, 10)
    assert api.due_date_for(engine, "2025-12") == dt.date(2026, 1, 10)
    api.set_due_day(engine, 15)
    assert api.due_date_for(engine, "2025-03") == dt.date(2025, 4, 15)
    assert query(engine, "SELECT value #>> '{}' FROM settings WHERE key = 'due_day'") == [("15",)]
    with pytest.raises(ValueError):
        api.set_due_day(engine, 31)


def test_received_at_defaults_to_the_moment_of_the_upload(loaded):
    before = dt.datetime.now(dt.UTC)
    result = ingest(loaded, monthly(month(doctors="201")), "x.csv")
    after = dt.datetime.now(dt.UTC)
    (received,) = query(loaded, "SELECT received_at FROM submissions WHERE submission_id = :s", s=result.submission_id)[0]
    assert before - dt.timedelta(seconds=1) <= received <= after + dt.timedelta(seconds=1)


def test_a_backdated_naive_received_at_is_china_time(engine):
    ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    # 23:30 on the due day in China is 15:30 UTC: on time, whatever the server's time zone.
    result = ingest(engine, monthly(month()), "x.csv", received_at=dt.datetime(2025, 4, 10, 23, 30))
    received = list_revisions(engine, A)["received_at"].iloc[0]
    assert received == dt.datetime(2025, 4, 10, 15, 30, tzinfo=dt.UTC)
    assert received.astimezone(CHINA).date() <= api.due_date_for(engine, "2025-03")
    assert result.status == "accepted"


def test_a_naive_received_at_is_read_in_the_configured_time_zone(engine):
    ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    with engine.begin() as conn:  # UTC+6
        conn.execute(sa.text("INSERT INTO settings (key, value) VALUES ('timezone', '\"Asia/Urumqi\"')"))
    ingest(engine, monthly(month()), "x.csv", received_at=dt.datetime(2025, 4, 10, 23, 30))
    assert list_revisions(engine, A)["received_at"].iloc[0] == dt.datetime(2025, 4, 10, 17, 30, tzinfo=dt.UTC)


def test_the_due_day_is_1_to_28(engine):
    for day in (0, 29, "x"):
        with pytest.raises(ValueError):
            api.set_due_day(engine, day)
    api.set_due_day(engine, "28")
    assert api.due_day(engine) == 28
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE settings SET value = '30' WHERE key = 'due_day'"))
    with pytest.raises(ValueError, match="1–28"):
        api.due_day(engine)


def test_the_first_accepted_revision_keeps_its_arrival_time_through_corrections(engine):
    ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    on_time = dt.datetime(2025, 4, 9, 16, 0, tzinfo=CHINA)
    late = dt.datetime(2025, 4, 20, 10, 0, tzinfo=CHINA)
    ingest(engine, monthly(month()), "3月.csv", received_at=on_time)
    ingest(engine, monthly(month()), "3月.csv", received_at=late)  # unchanged: no revision
    ingest(engine, monthly(month(doctors="201")), "3月更正.csv", received_at=late)
    revisions = list_revisions(engine, A, "2025-03")
    assert revisions["received_at"].tolist() == [on_time, late]
    first = revisions.loc[revisions["revision"] == 1, "received_at"].iloc[0]
    assert first.astimezone(CHINA).date() <= api.due_date_for(engine, "2025-03")  # on time


def test_a_rejected_attempt_before_the_deadline_does_not_make_a_late_report_timely(engine):
    ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv")
    ingest(engine, monthly(month(total_revenue="一千万")), "3月.csv", received_at=dt.datetime(2025, 4, 8, 9, 0))
    ingest(engine, monthly(month()), "3月.csv", received_at=dt.datetime(2025, 4, 12, 9, 0))
    (first,) = list_revisions(engine, A, "2025-03")["received_at"].tolist()
    assert first.astimezone(CHINA) == dt.datetime(2025, 4, 12, 9, 0, tzinfo=CHINA)
    assert first.astimezone(CHINA).date() > api.due_date_for(engine, "2025-03")  # late
