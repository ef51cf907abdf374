"""Adversarial review of the documents: number formatting, the renderers' edge cases (long cells,
characters outside the font, empty tables), and the 通报's refusals (scope, hospital users, months)."""

from __future__ import annotations

import io

import pytest

from opsmon.documents import prose
from opsmon.documents.model import Document, Heading, Paragraph, Table
from opsmon.indicators import catalogue

MONEY = catalogue.get("salary_arrears_total")  # 元, a sum
PERCENT = catalogue.get("surplus_rate")


# ── prose ─────────────────────────────────────────────────────────────────────────────────────────────

def test_money_that_rounds_to_zero_has_no_sign():
    # percent() and number() drop the sign of a value that rounds to zero; money() does not: "-0元".
    assert prose.money(-0.4) == "0元"
    assert prose.number(-0.04) == "0.0"
    assert prose.percent(-0.0004) == "0.0%"


def test_money_at_a_unit_boundary_moves_to_the_larger_unit():
    # 9,999.6 元 prints as "10,000元" (and 99,999,999.99 as "10,000.0万元"): the unit is picked before rounding.
    assert prose.money(9_999.6) == "1.0万元"
    assert prose.money(99_999_999.99) == "1.00亿元"


def test_a_change_of_money_that_rounds_to_nothing_is_level():
    # 100.3 元 against 100.0 元: the table says "-0元"/"+0元" and the prose "提高0元" instead of 持平.
    assert prose.change(MONEY, 100.0, 100.3) == "0元"
    assert prose.change_words(MONEY, 100.3, 100.0) == "持平"


def test_percent_changes_are_in_points_and_level_when_they_round_to_zero():
    assert prose.change(PERCENT, 0.123, 0.118) == "+0.5个百分点"
    assert prose.change(PERCENT, 0.1180001, 0.118) == "0.0个百分点"
    assert prose.change_words(PERCENT, 0.118, 0.123) == "下降0.5个百分点"
    assert prose.change_words(PERCENT, 0.1180001, 0.118) == "持平"
    assert prose.percent(None) == prose.percent(float("nan")) == "—"
    assert prose.money(123_456_789) == "1.23亿元" and prose.money(45_600_000 / 1000) == "4.6万元"


# ── renderers ─────────────────────────────────────────────────────────────────────────────────────────

def test_a_table_cell_longer_than_a_page_renders_in_the_pdf():
    from opsmon.documents.pdf_render import to_pdf

    doc = Document("长文本", ("测试",), (Table(("评价项目", "分值", "说明"),
                                             (("项目", "10", "按要求开展工作并形成制度。" * 200),)),))
    assert to_pdf(doc)[:5] == b"%PDF-"


def test_a_very_long_name_without_breaks_renders_in_both_formats():
    from opsmon.documents.docx_render import to_docx
    from opsmon.documents.pdf_render import to_pdf

    name = "吉林省" + "某某" * 60 + "人民医院ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 3
    doc = Document(name, (name,), (Heading(name), Paragraph(name),
                                   Table(("单位", "得分"), ((name, "99.5"),) * 3), Table(("单位", "得分"), ())))
    assert to_pdf(doc)[:5] == b"%PDF-"
    assert to_docx(doc)[:2] == b"PK"


def test_characters_outside_the_font_are_not_silently_dropped_from_the_pdf():
    # A hospital or person name with a character the CJK face lacks (an emoji, a rare CJK Ext-B
    # character) vanishes from the PDF with only a log warning: the official document misprints it.
    from pypdf import PdfReader

    from opsmon.documents.pdf_render import to_pdf

    text = "医院😀名称"
    try:
        pdf = to_pdf(Document("标题", ("单位",), (Paragraph(text),)))
    except Exception as exc:  # refusing with a clear message is acceptable
        assert "😀" in str(exc)
        return
    extracted = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "😀" in extracted


def test_the_pdf_keeps_every_cjk_character_of_the_document():
    from pypdf import PdfReader

    from opsmon.documents.pdf_render import to_pdf

    text = "长春市双阳区医院经济运行分析：收支结余率12.3%，同比提高0.5个百分点。"
    pdf = to_pdf(Document("标题", ("吉林省卫生健康委员会",), (Paragraph(text),)))
    extracted = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).replace("\n", "")
    assert text in extracted


# ── the 通报's refusals ──────────────────────────────────────────────────────────────────────────────

def test_a_bulletin_refuses_a_hospital_scope_an_open_month_and_a_region_outside_the_scope(demo_engine, closed_month):
    from opsmon.documents import bulletin

    with pytest.raises(ValueError, match="医院"):
        bulletin.build(demo_engine, closed_month, scope="220100199901010000")
    with pytest.raises(ValueError, match="尚未截止"):
        bulletin.build(demo_engine, "2026-06")
    with pytest.raises(ValueError, match="YYYY-MM"):
        bulletin.build(demo_engine, "2026-13")
    outside = str(bulletin.build.__module__) and "220200"  # 吉林市, outside 长春市
    with pytest.raises(ValueError) as a:
        bulletin.build(demo_engine, closed_month, region=outside, scope="220100")
    with pytest.raises(ValueError) as b:
        bulletin.build(demo_engine, closed_month, region="229999", scope="220100")
    assert str(a.value).replace(outside, "X").replace("229999", "X") == \
        str(b.value).replace(outside, "X").replace("229999", "X")


def test_the_bulletin_cli_fails_cleanly_and_writes_nothing(demo_url, tmp_path):
    from click.testing import CliRunner

    from opsmon.cli import cli

    out = tmp_path / "b.docx"
    result = CliRunner().invoke(cli, ["bulletin", "--period", "2026-06", "-o", str(out)],
                                env={"DATABASE_URL": demo_url, "OPSMON_TODAY": "2026-06-23"})
    assert result.exit_code == 1 and "尚未截止" in result.output and not out.exists()
    result = CliRunner().invoke(cli, ["bulletin", "--period", "2026-05", "--as", "nobody-here", "-o", str(out)],
                                env={"DATABASE_URL": demo_url, "OPSMON_TODAY": "2026-06-23"})
    assert result.exit_code == 1 and "no active user" in result.output and not out.exists()
