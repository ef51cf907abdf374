"""The 经济运行分析通报: its figures are the export's, formatted; bad requests are refused clearly.

Expected values come from running ``opsmon export … --format csv`` (the CLI, through
click's runner) and formatting them the way :mod:`opsmon.documents.prose` documents —
written out here again, never taken from the code under test.
"""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from docx import Document as read_docx
from docx.oxml.ns import qn

from opsmon.cli import cli
from opsmon.documents import bulletin
from tests.conftest import DEMO_TODAY
from tests.documents.conftest import PREFECTURE, PROVINCE

NAMES = {PROVINCE: "吉林省", PREFECTURE: "长春市"}
LEVEL = {PROVINCE: "province", PREFECTURE: "prefecture"}
CHILD_LEVEL = {PROVINCE: "prefecture", PREFECTURE: "county"}


# ── the documented formatting, written out independently ──────────────────────────────────────────

def pct(v: float) -> str:
    return "—" if pd.isna(v) else f"{v * 100:.1f}%"


def pp(now: float, before: float) -> str:
    if pd.isna(now) or pd.isna(before):
        return "—"
    text = f"{(now - before) * 100:+.1f}"
    return ("0.0" if float(text) == 0 else text) + "个百分点"


def homes(v: float) -> str:
    return f"{int(round(v))}家"


def money(v: float) -> str:
    if abs(v) >= 1e8:
        return f"{v / 1e8:,.2f}亿元"
    return f"{v / 1e4:,.1f}万元" if abs(v) >= 1e4 else f"{v:,.0f}元"


def months(v: float) -> str:
    return f"{v:,.1f}个月"


def prior_month(period: str) -> str:
    year, month = (int(x) for x in period.split("-"))
    return f"{year - 1}-{month:02d}"


# ── reading the export and the document ──────────────────────────────────────────────────────────

@pytest.fixture(scope="module")
def export(demo_url):
    """``opsmon export`` as a frame: (ids, level, period, span, region) → the CSV's rows, cached."""
    cache: dict[tuple, pd.DataFrame] = {}

    def run(ids: list[str], level: str, period: str, span: str, region: str) -> pd.DataFrame:
        key = (tuple(ids), level, period, span, region)
        if key not in cache:
            result = CliRunner().invoke(cli, ["export", "--indicator", ",".join(ids), "--level", level,
                                              "--period", period, "--span", span, "--region", region,
                                              "--format", "csv"],
                                        env={"DATABASE_URL": demo_url, "OPSMON_TODAY": DEMO_TODAY.isoformat()},
                                        catch_exceptions=False)
            assert result.exit_code == 0, result.output
            cache[key] = pd.read_csv(io.StringIO(result.output), dtype={"code": str, "parent_code": str})
        return cache[key]

    return run


def value(frame: pd.DataFrame, code: str, indicator: str) -> float:
    row = frame[(frame["code"] == code) & (frame["indicator"] == indicator)]
    assert len(row) == 1, (code, indicator)
    return float(row["value"].iloc[0])


def text_of(content: bytes) -> tuple[str, list[list[list[str]]]]:
    """The DOCX's paragraphs (one string) and its tables (rows of cell texts)."""
    doc = read_docx(io.BytesIO(content))
    paragraphs = "\n".join(p.text for p in doc.paragraphs)
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return paragraphs, tables


def table_with(tables: list[list[list[str]]], *headers: str) -> dict[str, list[str]]:
    """The table whose header row has *headers*, by its first column; the header row under ''."""
    found = [t for t in tables if all(h in t[0] for h in headers)]
    assert len(found) == 1, headers
    rows = {row[0]: row for row in found[0][1:]}
    rows[""] = found[0][0]
    return rows


# ── the figures ─────────────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("region", [PROVINCE, PREFECTURE])
def test_headline_figures_equal_the_export(bulletin_docx, export, closed_month, region):
    paragraphs, tables = text_of(bulletin_docx[region])
    level, p, prior = LEVEL[region], closed_month, prior_month(closed_month)
    month_label = f"{int(p[5:])}月"
    table = table_with(tables, "指标", "上年同期", "同比变化")
    header = table[""]
    col = {name: header.index(name) for name in (month_label, f"1—{int(p[5:])}月", "上年同期", "同比变化")}
    ids = ["medical_revenue_growth", "surplus_rate", "personnel_expense_share", "debt_ratio", "cash_months",
           "ops_platform_coverage_tertiary", "salary_arrears_total"]
    month = export(ids, level, p, "month", region)
    ytd = export(ids, level, p, "ytd", region)
    month_before = export(ids, level, prior, "month", region)
    ytd_before = export(ids, level, prior, "ytd", region)

    # Flows: the month, the year to date, the year to date a year earlier and the change in points.
    for ind, label in (("surplus_rate", "收支结余率"), ("personnel_expense_share", "人员支出占业务支出比重")):
        row = table[label]
        now, before = value(ytd, region, ind), value(ytd_before, region, ind)
        assert row[col[month_label]] == pct(value(month, region, ind))
        assert row[col[f"1—{int(p[5:])}月"]] == pct(now)
        assert row[col["上年同期"]] == pct(before)
        assert row[col["同比变化"]] == pp(now, before)
    # Growth: the rate itself, month and year to date.
    row = table["医疗收入增幅"]
    assert row[col[month_label]] == pct(value(month, region, "medical_revenue_growth"))
    growth = value(ytd, region, "medical_revenue_growth")
    assert row[col[f"1—{int(p[5:])}月"]] == pct(growth)
    # Stocks and programme status: the month's end against a year earlier.
    for ind, label in (("debt_ratio", "资产负债率"), ("ops_platform_coverage_tertiary", "三级公立医院运营管理信息集成平台覆盖率")):
        now, before = value(month, region, ind), value(month_before, region, ind)
        assert table[label][col[month_label]] == pct(now)
        assert table[label][col["上年同期"]] == pct(before)
        assert table[label][col["同比变化"]] == pp(now, before)
    assert table["货币资金可支付月数"][col[month_label]] == months(value(month, region, "cash_months"))
    assert table["拖欠职工薪酬总额"][col[month_label]] == money(value(month, region, "salary_arrears_total"))

    # The prose says the same numbers.
    word = "增长" if growth > 0 else "下降"
    assert f"医疗收入同比{word}{abs(growth) * 100:.1f}%" in paragraphs
    assert f"收支结余率{pct(value(ytd, region, 'surplus_rate'))}" in paragraphs
    assert f"资产负债率{pct(value(month, region, 'debt_ratio'))}" in paragraphs


@pytest.mark.parametrize("region", [PROVINCE, PREFECTURE])
def test_reporting_figures_equal_the_export(bulletin_docx, export, closed_month, region):
    paragraphs, tables = text_of(bulletin_docx[region])
    ids = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate"]
    own = export(ids, LEVEL[region], closed_month, "month", region)
    assert f"已报送{homes(value(own, region, 'hospitals_reporting'))}" in paragraphs
    assert f"报送率{pct(value(own, region, 'reporting_rate'))}" in paragraphs
    assert f"应报送月报的公立医院{homes(value(own, region, 'hospitals_expected'))}" in paragraphs

    children = export(ids, CHILD_LEVEL[region], closed_month, "month", region)
    children = children[children["parent_code"] == region]
    table = table_with(tables, "地区", "应报医院", "已报医院", "报送率")
    header = table[""]
    assert len(children) >= 5
    for code, name in zip(children["code"], children["name"], strict=True):
        row = table[name]
        assert row[header.index("应报医院")] == homes(value(children, code, "hospitals_expected"))
        assert row[header.index("已报医院")] == homes(value(children, code, "hospitals_reporting"))
        assert row[header.index("报送率")] == pct(value(children, code, "reporting_rate"))
        assert row[header.index("及时报送率")] == pct(value(children, code, "timely_rate"))
    total = table[f"{NAMES[region]}合计"]
    assert total[header.index("已报医院")] == homes(value(own, region, "hospitals_reporting"))

    # The 催报 list names every hospital the export says has not reported.
    hospitals = export(["hospitals_reporting"], "hospital", closed_month, "month", region)
    missing = hospitals[hospitals["value"] == 0]["name"]
    names = table_with(tables, "序号", "医院", "情况")
    listed = {row[1] for key, row in names.items() if key and row[3] == "未报送"}
    assert listed == set(missing)


@pytest.mark.parametrize("region", [PROVINCE, PREFECTURE])
def test_comparison_figures_equal_the_export(bulletin_docx, export, closed_month, region):
    _, tables = text_of(bulletin_docx[region])
    frame = export(["medical_revenue_growth", "surplus_rate"], CHILD_LEVEL[region], closed_month, "ytd", region)
    frame = frame[frame["parent_code"] == region]
    table = table_with(tables, "排名", "名称", "医疗收入增幅", "收支结余率")
    header = table[""]
    by_name = {row[1]: row for key, row in table.items() if key}
    assert len(by_name) == min(10, len(frame))
    for name, row in by_name.items():
        code = frame[frame["name"] == name]["code"].iloc[0]
        assert row[header.index("医疗收入增幅")] == pct(value(frame, code, "medical_revenue_growth"))
        assert row[header.index("收支结余率")] == pct(value(frame, code, "surplus_rate"))
    # Ranked by growth, highest first.
    shown = [float(row[header.index("医疗收入增幅")].rstrip("%")) for key, row in table.items() if key]
    assert shown == sorted(shown, reverse=True)


def test_risk_counts_equal_the_export(bulletin_docx, export, closed_month):
    paragraphs, _ = text_of(bulletin_docx[PROVINCE])
    frame = export(["deficit_hospitals"], "province", closed_month, "month", PROVINCE)
    assert f"近12个月收不抵支医院{homes(value(frame, PROVINCE, 'deficit_hospitals'))}" in paragraphs


@pytest.mark.parametrize("region", [PROVINCE, PREFECTURE])
def test_title_and_structure(bulletin_docx, closed_month, region):
    doc = read_docx(io.BytesIO(bulletin_docx[region]))
    year, month = (int(x) for x in closed_month.split("-"))
    assert doc.paragraphs[0].text == f"{NAMES[region]}公立医院经济运行分析通报（{year}年{month}月）"
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == ["一、填报情况", "二、主要指标", "三、地区比较", "四、风险监测", "五、下一步工作"]
    # Charts are inline pictures (the trend, the ranking, the map).
    assert len(doc.inline_shapes) >= 2
    images = [r for r in doc.part.rels.values() if "image" in r.reltype]
    assert len(images) >= 2


def test_docx_styles_name_chinese_fonts(bulletin_docx):
    doc = read_docx(io.BytesIO(bulletin_docx[PROVINCE]))
    for style, font in (("Normal", "宋体"), ("Heading 1", "黑体"), ("Title", "黑体")):
        rfonts = doc.styles[style].element.rPr.find(qn("w:rFonts"))
        assert rfonts.get(qn("w:eastAsia")) == font
        assert rfonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would override it
    section = doc.sections[0]
    assert (round(section.page_width.cm, 1), round(section.page_height.cm, 1)) == (21.0, 29.7)


# ── refusals ───────────────────────────────────────────────────────────────────────────────────────

def test_a_month_not_yet_closed_is_refused(demo_engine, closed_month):
    year, month = (int(x) for x in closed_month.split("-"))
    following = f"{year + month // 12}-{month % 12 + 1:02d}"
    with pytest.raises(ValueError, match=r"尚未截止.*not closed") as caught:
        bulletin.build(demo_engine, following)
    assert closed_month in str(caught.value)


@pytest.mark.parametrize("period", ["2026-13", "May 2026", "2026/05", ""])
def test_a_malformed_period_is_refused(demo_engine, period):
    with pytest.raises(ValueError, match=r"YYYY-MM"):
        bulletin.build(demo_engine, period)


def test_a_region_outside_the_scope_reads_like_an_unknown_one(demo_engine, closed_month):
    with pytest.raises(ValueError) as outside:
        bulletin.build(demo_engine, closed_month, region="220200", scope=PREFECTURE)  # 吉林市, to a 长春市 user
    with pytest.raises(ValueError) as unknown:
        bulletin.build(demo_engine, closed_month, region="229999", scope=PREFECTURE)
    with pytest.raises(ValueError) as nowhere:
        bulletin.build(demo_engine, closed_month, region="229999")
    assert "unknown region" in str(outside.value) and "未知地区" in str(outside.value)
    assert str(outside.value).replace("220200", "X") == str(unknown.value).replace("229999", "X") \
        == str(nowhere.value).replace("229999", "X")
    with pytest.raises(ValueError, match="unknown region"):  # the province, above a prefecture scope
        bulletin.build(demo_engine, closed_month, region=PROVINCE, scope=PREFECTURE)
    with pytest.raises(ValueError, match="unknown region"):
        bulletin.build(demo_engine, closed_month, region="not-a-code")


def test_a_hospital_scope_is_refused(demo_engine, closed_month):
    with demo_engine.connect() as conn:
        hospital = conn.execute(sa.text("SELECT hospital_code FROM hospitals ORDER BY 1 LIMIT 1")).scalar_one()
    with pytest.raises(ValueError, match=r"医院.*hospital scope"):
        bulletin.build(demo_engine, closed_month, scope=hospital.strip())


def test_a_prefecture_scope_defaults_to_its_region(demo_engine, closed_month):
    doc = bulletin.build(demo_engine, closed_month, scope=PREFECTURE)
    assert doc.title.startswith("长春市")
    assert re.search(r"长春市卫生健康委员会", " ".join(doc.subtitle))


def test_render_refuses_an_unknown_format(demo_engine, closed_month):
    with pytest.raises(ValueError, match="docx or pdf"):
        bulletin.render(demo_engine, closed_month, fmt="html")  # type: ignore[arg-type]
