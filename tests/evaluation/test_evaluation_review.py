"""Adversarial review of the evaluation cycle: sheet files, scores, scopes, deadlines, locking, the sample,
final scores and the documents built from them. Rounds 2030–2034 are this module's own (the shared
rounds 2025/2026 are left alone); the default sheets come from ``round_2026``."""

from __future__ import annotations

import io
import threading
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsmon.evaluation import results, rounds, scoring, sheets
from opsmon.evaluation.rounds import EvaluationError
from tests.evaluation.conftest import DUES, province, regions_of, user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _open(engine, year: int) -> int:
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM evaluation_rounds WHERE year = :y"), {"y": year}).first()
    if not exists:
        rounds.create(engine, province(engine), year, data_period="2026-05", commission_version="2026",
                      hospital_version="2026", **DUES)
    return year


def _events(engine, year: int, unit_code: str | None = None) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM evaluation_events WHERE year = :y "
                                    "AND (CAST(:c AS text) IS NULL OR unit_code = :c)"),
                            {"y": year, "c": unit_code}).scalar_one()


def _fill(engine, who, year: int, unit_code: str, *, stage: str = "self", at: str = "max", note: str | None = None):
    """Score every item: the maximum (with a reason) or the proposal/maximum − 1."""
    _, items = results.sheet(engine, who, year, unit_code)
    for it in items.itertuples():
        if at == "max":
            value = it.max_score
        else:
            value = it.proposed if it.proposed == it.proposed and it.proposed is not None else it.max_score - 1
        scoring.score(engine, who, year, unit_code, it.item_code, value, stage=stage, reason="按实际情况",
                      note=note)


@pytest.fixture(scope="module")
def world(evaluation_engine, round_2026):
    e = evaluation_engine
    regions = regions_of(e)
    (pref, counties), (pref2, counties2) = list(regions.items())[:2]
    return {
        "pref": pref, "counties": counties, "pref2": pref2, "counties2": counties2,
        "pref_user": user(e, "rv-pref", "supervisor", pref),
        "pref2_user": user(e, "rv-pref2", "supervisor", pref2),
        "c0_user": user(e, "rv-c0", "supervisor", counties[0]),
        "c1_user": user(e, "rv-c1", "supervisor", counties[1]),
        "c2_user": user(e, "rv-c2", "supervisor", counties[2]) if len(counties) > 2 else None,
        "sib_user": user(e, "rv-sib", "supervisor", counties2[0]),
        "province": province(e),
    }


@pytest.fixture(scope="module")
def r2030(evaluation_engine, round_2026):
    return _open(evaluation_engine, 2030)


# ── sheet files ────────────────────────────────────────────────────────────────────────────────────────

SHEET = """kind: commission
version: "rv1"
name: 审查用评分表
items:
  - {{code: A1, section: 组织, item: 项目, criteria: 标准, max_score: 10, evidence: "", {extra}}}
"""


def _sheet(extra: str) -> str:
    return SHEET.format(extra=extra)


@pytest.mark.parametrize("bands", ["[[0.5, .nan]]", "[[.nan, 5]]", "[[.inf, 5]]", "[[0.5, .inf]]"])
def test_a_band_that_is_not_a_finite_number_is_refused_with_its_row(bands):
    # Otherwise the sheet reads fine and `store` dies in Postgres (json NaN/Infinity) with a raw error.
    with pytest.raises(sheets.SheetError) as info:
        sheets.read_yaml(_sheet(f"indicator: risk_register_share, bands: {bands}"))
    assert any("第1项" in p and "bands" in p for p in info.value.problems)


def test_a_nan_band_never_reaches_the_database_as_a_raw_error(evaluation_engine, round_2026):
    text = _sheet("indicator: risk_register_share, bands: [[0.5, .nan]]").replace('"rv1"', '"rv-nan"')
    with pytest.raises(sheets.SheetError):
        sheet = sheets.read_yaml(text)
        sheets.store(evaluation_engine, sheet, username="review")
    assert sheets.find(evaluation_engine, "commission", "rv-nan") is None


@pytest.mark.parametrize("field,text", [("section", "组织\\0内容"), ("item", "项目\\x07"), ("criteria", "标准\\x1b[31m")])
def test_control_characters_in_a_sheets_text_are_refused(field, text):
    # A NUL makes `store` fail in Postgres; other controls make every DOCX of the round fail (python-docx
    # refuses them), long after the sheet was accepted.
    fields = {"section": "组织", "item": "项目", "criteria": "标准", field: text}
    yaml_text = ("kind: commission\nversion: rv1\nname: t\nitems:\n  - {code: A1, "
                 + ", ".join(f'{k}: "{v}"' for k, v in fields.items()) + ", max_score: 10, evidence: ''}\n")
    with pytest.raises(sheets.SheetError) as info:
        sheets.read_yaml(yaml_text)
    assert any(field in p for p in info.value.problems)


@pytest.mark.parametrize("value", ["[甲, 乙]", "{a: 1}"])
def test_a_list_or_mapping_where_text_belongs_is_refused(value):
    text = SHEET.replace("criteria: 标准, ", "").format(extra=f"criteria: {value}")
    with pytest.raises(sheets.SheetError) as info:
        sheets.read_yaml(text)
    assert any("criteria" in p for p in info.value.problems)


def test_a_yaml_alias_bomb_is_refused_not_expanded_into_the_sheet():
    # 10⁵ leaves here (half a megabyte of "section"); three more levels would exhaust the server's memory.
    bomb = ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcd", "bcde"))
            + "kind: commission\nversion: rv2\nname: t\nitems:\n"
              "  - {code: A1, section: *e, item: i, criteria: c, max_score: 10, evidence: ''}\n")
    with pytest.raises(sheets.SheetError):
        sheets.read_yaml(bomb)


def test_codes_differing_only_in_case_are_duplicates():
    text = SHEET.format(extra="") + "  - {code: a1, section: 组织, item: 项目二, criteria: 标准, max_score: 5, evidence: ''}\n"
    with pytest.raises(sheets.SheetError) as info:
        sheets.read_yaml(text)
    assert any("重复" in p for p in info.value.problems)


def test_codes_differing_only_in_surrounding_space_are_duplicates():
    text = SHEET.format(extra="") + "  - {code: ' A1 ', section: 组织, item: 项目二, criteria: 标准, max_score: 5, evidence: ''}\n"
    with pytest.raises(sheets.SheetError) as info:
        sheets.read_yaml(text)
    assert any("重复" in p for p in info.value.problems)


def test_a_band_score_with_two_decimals_is_refused():
    # Scores have one decimal: a proposal of 6.25 can be neither given nor matched.
    with pytest.raises(sheets.SheetError):
        sheets.read_yaml(_sheet("indicator: risk_register_share, bands: [[1, 10], [0.8, 6.25]]"))


def test_a_band_that_can_never_be_the_proposal_is_refused():
    # ↑ indicator: reaching 0.3 earns 10, so the 0.5 band (6) can never be the result — the author
    # wrote the bands the wrong way round.
    with pytest.raises(sheets.SheetError):
        sheets.read_yaml(_sheet("indicator: risk_register_share, bands: [[0.3, 10], [0.5, 6]]"))


def test_a_band_score_above_the_maximum_and_an_unknown_indicator_are_reported_together():
    text = SHEET.format(extra="indicator: risk_register_share, bands: [[1, 11]]") + \
        "  - {code: A2, section: s, item: i, criteria: c, max_score: 10.05, evidence: '', indicator: nope, bands: [[1, 1]]}\n"
    with pytest.raises(sheets.SheetError) as info:
        sheets.read_yaml(text)
    joined = "\n".join(info.value.problems)
    assert "第1项" in joined and "第2项 分值" in joined and "第2项 关联指标" in joined


def test_xlsx_that_is_a_plain_zip_or_has_formulas_without_values_gets_a_clear_error():
    import zipfile

    from openpyxl import Workbook

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(sheets.SheetError, match="XLSX"):
        sheets.read("x.xlsx", buf.getvalue(), kind="commission", version="rv3", name="t")
    book = Workbook()
    ws = book.active
    ws.append(["标题行"])
    ws.append([c for _, c, _ in [(0, zh, 0) for _, zh, _ in sheets.COLUMNS]])
    ws.append(["A1", "s", "i", "c", "=5+5", ""])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(sheets.SheetError) as info:
        sheets.read("x.xlsx", out.getvalue(), kind="commission", version="rv3", name="t")
    assert any("第3行" in p and "分值" in p for p in info.value.problems)


# ── scores: numbers ───────────────────────────────────────────────────────────────────────────────────

def _plain_item(engine, year: int) -> tuple[str, float]:
    r = rounds.get_round(engine, year)
    item = next(i for i in sheets.load(engine, r.commission_sheet).items if not i.indicator)
    return item.code, item.max_score


@pytest.mark.parametrize("value", ["10.05", "nan", float("inf"), "-inf", "-0.1", "1e400", "", "十", None])
def test_bad_numbers_are_refused_and_change_nothing(evaluation_engine, world, r2030, value):
    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    before = _events(e, r2030, unit)
    with pytest.raises(EvaluationError):
        scoring.score(e, world["c0_user"], r2030, unit, code, value)
    assert _events(e, r2030, unit) == before


def test_a_boolean_is_not_a_score(evaluation_engine, world, r2030):
    # float(True) == 1.0: a ticked checkbox or a JSON true would be stored as one point.
    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    before = _events(e, r2030, unit)
    with pytest.raises(EvaluationError):
        scoring.score(e, world["c0_user"], r2030, unit, code, True)
    assert _events(e, r2030, unit) == before


def test_negative_zero_and_exponent_text_are_stored_as_plain_numbers(evaluation_engine, world, r2030):
    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    scoring.score(e, world["c0_user"], r2030, unit, code, -0.0)
    _, items = results.sheet(e, world["c0_user"], r2030, unit)
    got = items.set_index("item_code").loc[code, "self_score"]
    assert got == 0 and str(got) != "-0.0"
    scoring.score(e, world["c0_user"], r2030, unit, code, "5e-1")
    _, items = results.sheet(e, world["c0_user"], r2030, unit)
    assert items.set_index("item_code").loc[code, "self_score"] == 0.5


# ── scopes ────────────────────────────────────────────────────────────────────────────────────────────

def test_a_sibling_prefecture_cannot_see_score_or_review_another_prefectures_county(evaluation_engine, world, r2030):
    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    before = _events(e, r2030)
    for who, stage in ((world["pref2_user"], "review"), (world["pref2_user"], "self"), (world["sib_user"], "self")):
        with pytest.raises(EvaluationError):
            scoring.score(e, who, r2030, unit, code, 1, stage=stage, reason="x")
        with pytest.raises(rounds.NotFound):
            results.sheet(e, who, r2030, unit)
        assert unit not in set(results.units(e, who, r2030)["unit_code"])
    assert _events(e, r2030) == before


def test_the_province_cannot_review_a_county_nor_a_county_its_neighbour(evaluation_engine, world, r2030):
    e, unit = evaluation_engine, world["counties"][1]
    _fill(e, world["c1_user"], r2030, unit)
    scoring.submit(e, world["c1_user"], r2030, unit)
    code, _ = _plain_item(e, r2030)
    before = _events(e, r2030, unit)
    with pytest.raises(EvaluationError, match="上一级"):
        scoring.score(e, world["province"], r2030, unit, code, 1, stage="review", reason="x")
    with pytest.raises(EvaluationError):
        scoring.score(e, world["c0_user"], r2030, unit, code, 1, stage="review", reason="x")
    with pytest.raises(EvaluationError, match="已提交"):
        scoring.score(e, world["c1_user"], r2030, unit, code, 1)
    assert _events(e, r2030, unit) == before


def test_a_hospital_user_sees_only_its_own_hospital(evaluation_engine, world, r2030):
    e = evaluation_engine
    units = results.units(e, world["province"], r2030)
    hospitals = units[units["kind"] == "hospital"]["unit_code"].tolist()
    own = user(e, "rv-hosp", "hospital", hospitals[0])
    seen = results.units(e, own, r2030)
    assert list(seen["unit_code"]) == [hospitals[0]]
    if len(hospitals) > 1:
        with pytest.raises(rounds.NotFound):
            results.sheet(e, own, r2030, hospitals[1])
    # A prefecture's supervisor does not see (nor review) the designated hospitals in its area.
    assert not set(hospitals) & set(results.units(e, world["pref_user"], r2030)["unit_code"])


def test_evidence_is_checked_by_content_and_served_only_within_scope(evaluation_engine, world, r2030):
    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    who = world["c0_user"]
    bad = [("tool.pdf", b"MZ\x90\x00" + b"\0" * 100), ("a.xlsx", _zip_not_workbook()), ("empty.pdf", b""),
           ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024)), ("a.pdf", PDF.replace(b"%PDF", b"%PDX")),
           ("x.png", PDF)]
    with e.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM evaluation_evidence")).scalar_one()
    for name, content in bad:
        with pytest.raises(EvaluationError):
            scoring.add_evidence(e, who, r2030, unit, code, name, content)
    evidence_id = scoring.add_evidence(e, who, r2030, unit, code, "..\\..\\etc/报告.pdf", PDF)
    with e.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM evaluation_evidence")).scalar_one() == before + 1
    assert results.evidence_file(e, who, evidence_id)["file_name"] == "报告.pdf"
    assert results.evidence_file(e, world["sib_user"], evidence_id) is None
    assert results.evidence_file(e, world["pref2_user"], evidence_id) is None
    assert results.evidence_file(e, world["pref_user"], evidence_id) is not None
    with pytest.raises(rounds.NotFound):
        results.evidence_list(e, world["sib_user"], r2030, unit)


def _zip_not_workbook() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/other.xml", "<x/>")
    return buf.getvalue()


# ── deadlines and locking ─────────────────────────────────────────────────────────────────────────────

def test_the_self_deadline_is_the_china_day_and_inclusive(evaluation_engine, world, r2030, monkeypatch):
    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    # 23:30 on the due day in China (15:30 UTC): still in time.
    monkeypatch.setenv("OPSMON_TODAY", "2026-07-10T15:30:00+00:00")
    scoring.score(e, world["c0_user"], r2030, unit, code, 1)
    # 00:30 the next day in China (16:30 UTC, still the 10th in UTC): too late.
    monkeypatch.setenv("OPSMON_TODAY", "2026-07-10T16:30:00+00:00")
    before = _events(e, r2030, unit)
    with pytest.raises(EvaluationError, match="截止"):
        scoring.score(e, world["c0_user"], r2030, unit, code, 2)
    assert _events(e, r2030, unit) == before


def test_two_simultaneous_submissions_record_one(evaluation_engine, world, r2030):
    e = evaluation_engine
    unit, who = world["pref"], world["pref_user"]
    _fill(e, who, r2030, unit)
    barrier, outcome = threading.Barrier(2), []

    def go():
        barrier.wait()
        try:
            scoring.submit(e, who, r2030, unit)
            outcome.append("ok")
        except EvaluationError as exc:
            outcome.append(exc.message)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome)[0] == "ok" and outcome.count("ok") == 1
    with e.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM evaluation_events WHERE year = :y AND unit_code = :c "
                                    "AND action = 'submit'"), {"y": r2030, "c": unit}).scalar_one() == 1


# ── final scores and praise ───────────────────────────────────────────────────────────────────────────

def test_praise_leaves_out_a_unit_that_never_submitted_its_self_assessment(evaluation_engine, world, r2030):
    # A county scores every item at its maximum and never submits (it missed the deadline, or is still
    # drafting): it must not be ranked, nor proposed for 通报表扬.
    e = evaluation_engine
    unit, who = world["counties"][2], world["c2_user"]
    if who is None:
        pytest.skip("needs a prefecture with three counties")
    _fill(e, who, r2030, unit)
    units = results.units(e, world["province"], r2030)
    row = units.set_index("unit_code").loc[unit]
    assert row["state"] == "draft"
    assert unit not in set(results.praise(units)["unit_code"])


def test_an_unsubmitted_review_adjustment_does_not_change_the_final_score(evaluation_engine, world, r2030):
    # The review counts once submitted ("submit = accept the rest"): a reviewer's draft is not a result.
    e = evaluation_engine
    unit = world["counties"][1]  # submitted in an earlier test of this module
    if _events(e, r2030, unit) == 0:
        _fill(e, world["c1_user"], r2030, unit)
        scoring.submit(e, world["c1_user"], r2030, unit)
    code, _ = _plain_item(e, r2030)
    scoring.score(e, world["pref_user"], r2030, unit, code, 0, stage="review", reason="草稿：待核实")
    row = results.units(e, world["province"], r2030).set_index("unit_code").loc[unit]
    assert row["state"] == "submitted"
    assert row["final_total"] == row["self_total"]
    _, items = results.sheet(e, world["province"], r2030, unit)
    it = items.set_index("item_code").loc[code]
    assert it["final_score"] == it["self_score"]


# ── the sample ────────────────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("rate", [0.0, -0.1, 1.0001, float("nan"), float("inf")])
def test_a_rate_outside_0_to_1_is_refused(evaluation_engine, round_2026, rate):
    year = _open(evaluation_engine, 2031)
    with pytest.raises(EvaluationError):
        rounds.draw_sample(evaluation_engine, province(evaluation_engine), year, rate=rate, seed=1)
    assert rounds.get_round(evaluation_engine, year).sample_seed is None


def test_only_the_province_draws_and_publishes(evaluation_engine, world, round_2026):
    year = _open(evaluation_engine, 2031)
    for who in (world["pref_user"], world["c0_user"]):
        with pytest.raises(EvaluationError):
            rounds.draw_sample(evaluation_engine, who, year, rate=0.5, seed=1)
        with pytest.raises(EvaluationError):
            rounds.publish(evaluation_engine, who, year)
    r = rounds.get_round(evaluation_engine, year)
    assert r.sample_seed is None and not r.published


def test_the_stored_sample_rate_is_the_rate_the_sample_was_drawn_with(evaluation_engine, round_2026):
    # numeric(4, 3) rounds 0.0004 to 0.000: the round then says it was drawn at 0 % (the report prints
    # "抽样比例0%") although one unit per stratum was drawn. Refuse such a rate or store it exactly.
    e = evaluation_engine
    year = _open(e, 2032)
    try:
        rounds.draw_sample(e, province(e), year, rate=0.0004, seed=3)
    except EvaluationError:
        assert rounds.get_round(e, year).sample_seed is None
        return
    assert rounds.get_round(e, year).sample_rate == pytest.approx(0.0004)


def test_the_same_seed_draws_the_same_sample_and_rate_one_draws_everyone(evaluation_engine, round_2026):
    e = evaluation_engine
    a, b, c = (_open(e, y) for y in (2033, 2034, 2035))
    first = rounds.draw_sample(e, province(e), a, rate=0.3, seed=20260623)
    second = rounds.draw_sample(e, province(e), b, rate=0.3, seed=20260623)
    assert list(first["unit_code"]) == list(second["unit_code"])
    units = results.units(e, province(e), a)
    for stratum, group in units.groupby("stratum"):
        import math
        assert int(group["sampled"].sum()) == max(1, math.ceil(0.3 * len(group))), stratum
    everyone = rounds.draw_sample(e, province(e), c, rate=1.0, seed=1)
    assert len(everyone) == len(results.units(e, province(e), c))
    with pytest.raises(EvaluationError, match="不能重抽"):
        rounds.draw_sample(e, province(e), a, rate=0.3, seed=1)


# ── documents of a round ──────────────────────────────────────────────────────────────────────────────

def test_the_report_of_a_round_where_nothing_was_submitted_renders(evaluation_engine, round_2026):
    from opsmon.documents import evaluation_report as report

    e = evaluation_engine
    year = _open(e, 2035)
    doc = report.provincial(e, province(e), year)
    assert any("尚无已完成评价的单位" in getattr(b, "text", "") for b in doc.blocks)
    assert report.render(doc, "docx")[:2] == b"PK"
    assert report.render(doc, "pdf")[:5] == b"%PDF-"


def test_the_self_assessment_of_a_unit_with_no_scores_renders(evaluation_engine, world, round_2026):
    from opsmon.documents import evaluation_report as report

    e = evaluation_engine
    year = _open(e, 2035)
    doc = report.self_assessment(e, world["sib_user"], year, world["counties2"][0])
    table = next(b for b in doc.blocks if getattr(b, "caption", "") == "表1 自评得分")
    assert table.rows[-1][3] == "—"
    assert report.render(doc, "pdf")[:5] == b"%PDF-"


def test_a_long_note_does_not_break_the_pdf_self_assessment_report(evaluation_engine, world, r2030):
    # A note may have 4000 characters (scoring.MAX_TEXT); the 自评报告's table puts it in one cell, and
    # fpdf2 refuses a table row taller than a page: "The row with index … is too high".
    from opsmon.documents import evaluation_report as report

    e, unit = evaluation_engine, world["counties"][0]
    code, _ = _plain_item(e, r2030)
    scoring.score(e, world["c0_user"], r2030, unit, code, 1, note="本单位" + "按要求开展工作并形成制度。" * 150)
    doc = report.self_assessment(e, world["c0_user"], r2030, unit)
    assert report.render(doc, "pdf")[:5] == b"%PDF-"


def test_the_chinese_numbers_of_sections_go_past_twenty():
    from opsmon.documents.evaluation_report import _chinese_number

    assert [_chinese_number(n) for n in (1, 10, 11, 19)] == ["一", "十", "十一", "十九"]
    assert _chinese_number(20) == "二十"
    assert _chinese_number(21) == "二十一"


# ── the CLI ───────────────────────────────────────────────────────────────────────────────────────────

def _cli(url: str, *args: str):
    from opsmon.cli import cli

    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url, "OPSMON_TODAY": "2026-06-23"})


def test_cli_report_of_a_missing_round_or_a_hidden_unit_fails_and_writes_nothing(evaluation_url, world, round_2026,
                                                                                 tmp_path):
    out = tmp_path / "r.docx"
    result = _cli(evaluation_url, "evaluation", "report", "--round", "2099", "-o", str(out))
    assert result.exit_code == 1 and "没有找到" in result.output and not out.exists()
    result = _cli(evaluation_url, "evaluation", "report", "--round", "2026", "--unit", world["counties"][0],
                  "--as", "rv-sib", "-o", str(out))
    assert result.exit_code == 1 and "没有找到" in result.output and not out.exists()


def test_cli_refuses_a_disabled_user(evaluation_engine, evaluation_url, round_2026, tmp_path):
    from opsmon.access import set_disabled

    user(evaluation_engine, "rv-disabled", "supervisor", next(iter(regions_of(evaluation_engine))))
    set_disabled(evaluation_engine, "rv-disabled", True)
    out = tmp_path / "r.docx"
    result = _cli(evaluation_url, "evaluation", "status", "--round", "2026", "--as", "rv-disabled")
    assert result.exit_code == 1 and "no active user" in result.output
    result = _cli(evaluation_url, "evaluation", "report", "--round", "2026", "--as", "rv-disabled", "-o", str(out))
    assert result.exit_code == 1 and not out.exists()


def test_cli_scoresheet_load_of_a_bad_file_exits_1_names_the_row_and_stores_nothing(evaluation_url, evaluation_engine,
                                                                                    round_2026, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SHEET.replace('"rv1"', '"rv-cli"').format(extra="indicator: risk_register_share, bands: [[1, 11]]"),
                   encoding="utf-8")
    result = _cli(evaluation_url, "scoresheet", "load", str(bad))
    assert result.exit_code == 1 and "第1项" in result.output
    assert sheets.find(evaluation_engine, "commission", "rv-cli") is None


def test_cli_scoresheet_load_of_a_nan_band_gives_the_row_not_a_database_error(evaluation_url, evaluation_engine,
                                                                             round_2026, tmp_path):
    bad = tmp_path / "nan.yaml"
    bad.write_text(SHEET.replace('"rv1"', '"rv-cli-nan"').format(
        extra="indicator: risk_register_share, bands: [[1, .nan]]"), encoding="utf-8")
    result = _cli(evaluation_url, "scoresheet", "load", str(bad))
    assert result.exit_code == 1
    assert "第1项" in result.output and "database error" not in result.output
    assert sheets.find(evaluation_engine, "commission", "rv-cli-nan") is None


def test_deadlines_out_of_order_are_refused(evaluation_engine, round_2026):
    with pytest.raises(EvaluationError):
        rounds.create(evaluation_engine, province(evaluation_engine), 2036, data_period="2026-05",
                      self_due=date(2026, 7, 20), review_due=date(2026, 7, 10), check_due=date(2026, 7, 31))
    with pytest.raises(rounds.NotFound):
        rounds.get_round(evaluation_engine, 2036)
