"""Score sheets: read from YAML and XLSX (title rows allowed), every problem named by row and column,
nothing stored on an error, a new version per campaign year."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from openpyxl import Workbook

from opsmon.cli import cli
from opsmon.evaluation import sheets

HEADERS = ["编码", "评价内容", "评价项目", "评分标准", "分值", "佐证材料", "关联指标", "数据测算档次"]


def workbook(rows: list[list], headers: list[str] = HEADERS, title_rows: int = 2) -> bytes:
    book = Workbook()
    ws = book.active
    for n in range(title_rows):
        ws.append([f"附件3 公立医院自评表 标题{n + 1}"])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


GOOD_ROWS = [
    ["H01", "运营管理组织建设", "成立运营管理委员会", "成立得10分", 10, "成立文件", "ops_committee_share", "100%:10"],
    ["H02", "经济运行", "长期债务风险", "不高于10%得10分，不高于20%得6分", 10, "财务报表", "long_term_debt_ratio",
     "10%:10; 20%:6"],
    ["H03", "制度建设", "运营管理制度", "建立得5分", 5, "制度汇编", None, None],
]


def test_an_xlsx_sheet_with_title_rows_reads_with_its_bands():
    sheet = sheets.read("h.xlsx", workbook(GOOD_ROWS), kind="hospital", version="2027", name="医院自评表")
    assert [i.code for i in sheet.items] == ["H01", "H02", "H03"]
    assert sheet.max_total == 25
    assert sheet.items[0].bands == ((1.0, 10.0),)
    assert sheet.items[1].bands == ((0.1, 10.0), (0.2, 6.0))
    assert sheet.items[2].indicator is None and sheet.items[2].bands is None


def test_bands_follow_the_indicators_direction():
    committee, debt = sheets.read("h.xlsx", workbook(GOOD_ROWS), kind="hospital", version="1", name="x").items[:2]
    assert committee.propose(1.0) == 10 and committee.propose(0.99) == 0  # higher is better: at least 100%
    assert debt.propose(0.05) == 10 and debt.propose(0.15) == 6 and debt.propose(0.25) == 0  # lower is better
    assert debt.propose(float("nan")) is None


def test_a_missing_required_column_is_named():
    headers = [h for h in HEADERS if h != "分值"]
    rows = [[c for n, c in enumerate(r) if n != 4] for r in GOOD_ROWS]
    with pytest.raises(sheets.SheetError) as e:
        sheets.read("h.xlsx", workbook(rows, headers), kind="hospital", version="1", name="x")
    assert e.value.problems == ["第3行（表头）缺少列：分值（max_score）"]


def test_every_bad_row_is_reported_by_its_excel_row_and_column():
    rows = [
        ["H01", "组织", "委员会", "得10分", -1, "", None, None],                       # row 4: bad maximum
        ["H02", "组织", "总会计师", "得5分", 5, "", "no_such_indicator", "1:5"],         # row 5: unknown indicator
        ["H01", "组织", "重复", "得5分", 5, "", None, None],                             # row 6: duplicate code
        ["H04", "", "缺内容", "得5分", 5, "", None, None],                               # row 7: empty section
        ["H05", "经济", "结余", "得5分", 5, "", "surplus_rate", "0:5"],                  # row 8: a monitor indicator
        ["H06", "经济", "债务", "得5分", 5, "", "long_term_debt_ratio", "10%:8"],        # row 9: band above maximum
        ["H07", "经济", "债务", "得5分", 5, "", "long_term_debt_ratio", "10%"],          # row 10: no score in band
    ]
    with pytest.raises(sheets.SheetError) as e:
        sheets.read("h.xlsx", workbook(rows), kind="hospital", version="1", name="x")
    text = "\n".join(e.value.problems)
    assert "第4行 分值（max_score）" in text
    assert "第5行 关联指标（indicator）：“no_such_indicator”不是指标目录中的指标" in text
    assert "第6行 编码（code）：“H01”与第4行重复" in text
    assert "第7行 评价内容（section）：不能为空" in text
    assert "第8行 关联指标（indicator）：“surplus_rate”为监测指标" in text
    assert "第9行 数据测算档次（bands）：各档分值应在0到分值5之间" in text
    assert "第10行 数据测算档次（bands）" in text


def test_an_xlsx_needs_kind_version_and_name():
    with pytest.raises(sheets.SheetError) as e:
        sheets.read("h.xlsx", workbook(GOOD_ROWS), kind=None, version=None, name=None)
    assert any(p.startswith("种类（kind）") for p in e.value.problems)
    assert any(p.startswith("版本（version）") for p in e.value.problems)


def test_a_file_that_is_neither_yaml_nor_a_workbook_is_refused():
    with pytest.raises(sheets.SheetError, match="不是有效的 XLSX 文件"):
        sheets.read("h.xlsx", b"not a workbook")
    with pytest.raises(sheets.SheetError, match="应含 kind、version、name 和 items"):
        sheets.read("h.yaml", b"- just a list")


def test_the_shipped_defaults_are_valid_sheets_of_100_points():
    for kind in sheets.KINDS:
        sheet = sheets.default(kind)
        assert sheet.kind == kind and sheet.max_total == 100
        assert any(i.indicator for i in sheet.items) and any(i.indicator is None for i in sheet.items)


def test_store_keeps_a_version_and_refuses_it_twice(engine):
    sheet = sheets.default("hospital")
    sheet_id = sheets.store(engine, sheet, username="t")
    assert sheets.load(engine, sheet_id) == sheet
    with pytest.raises(sheets.SheetError, match="2026 版已存在"):
        sheets.store(engine, sheet, username="t")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM score_sheets")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'scoresheet.load'")).scalar_one() == 1


def test_cli_loads_a_new_version_and_stores_nothing_from_a_bad_file(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    default = runner.invoke(cli, ["scoresheet", "default", "--kind", "commission"])
    data = yaml.safe_load(default.output)
    data["version"] = "2027"
    good = tmp_path / "c2027.yaml"
    good.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    loaded = runner.invoke(cli, ["scoresheet", "load", str(good)])
    assert loaded.exit_code == 0, loaded.output
    assert "commission 2027, 11 items, 100 points" in loaded.output

    data["version"] = "2028"
    data["items"][0]["max_score"] = "十"
    bad = tmp_path / "c2028.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    refused = runner.invoke(cli, ["scoresheet", "load", str(bad)])
    assert refused.exit_code == 1
    assert "第1项 分值（max_score）：“十”应为大于0的数" in refused.output
    listed = runner.invoke(cli, ["scoresheet", "list", "--format", "json"])
    assert [s["version"] for s in yaml.safe_load(listed.output)["sheets"]] == ["2027"]
