"""docs/evaluation.md defines the score-sheet file and the shipped default sheets; its tables are the code's.

The tables between ``<!-- evaluation:NAME -->`` markers are generated from opsmon/evaluation/sheets.py
(the columns) and the default sheets (opsmon/evaluation/sheets/*.yaml); after changing either, rewrite
them with::

    python tests/evaluation/test_evaluation_docs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from opsmon.evaluation import sheets
from opsmon.indicators import catalogue

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
MEANINGS = {
    "code": "项目编码：字母、数字、点、横线，至多20个字符，表内唯一",
    "section": "评价内容（任务）：同一内容的项目归为一组",
    "item": "评价项目",
    "criteria": "评分标准：得分的条件",
    "max_score": "分值：大于0，至多一位小数",
    "evidence": "佐证材料：应提供的材料（可为空，列不可缺）",
    "indicator": "关联指标：指标目录中有好坏方向（↑/↓）的指标编码，其数值测算建议得分",
    "bands": "数据测算档次：`阈值:分值` 以分号分隔（如 `50%:10; 30%:6`）；YAML 中为 `[[0.5, 10], [0.3, 6]]`",
}


def columns_table() -> str:
    lines = ["| 列（XLSX 表头） | 编码（YAML 键） | 必填 | 含义 |", "|---|---|---|---|"]
    lines += [f"| {zh} | `{code}` | {'是' if required else '否'} | {MEANINGS[code]} |"
              for code, zh, required in sheets.COLUMNS]
    return "\n".join(lines)


def bands_text(item: sheets.Item) -> str:
    if not item.indicator:
        return "—"
    ind = catalogue.get(item.indicator)
    sign = "≤" if ind.direction == "down" else "≥"
    shown = [f"{sign}{t * 100:g}%:{s:g}" if ind.unit == "%" else f"{sign}{t:g}{ind.unit}:{s:g}" for t, s in item.bands]
    return f"`{item.indicator}`（{ind.zh}） " + "；".join(shown)


def sheet_table(kind: str) -> str:
    sheet = sheets.default(kind)
    lines = [f"《{sheet.name}》，版本 {sheet.version}，满分 {sheet.max_total:g} 分。", "",
             "| 编码 | 评价内容 | 评价项目 | 评分标准 | 分值 | 数据测算 |", "|---|---|---|---|---|---|"]
    lines += [f"| {i.code} | {i.section} | {i.item} | {i.criteria} | {i.max_score:g} | {bands_text(i)} |"
              for i in sheet.items]
    return "\n".join(lines)


SECTIONS = {"columns": columns_table, "commission": lambda: sheet_table("commission"),
            "hospital": lambda: sheet_table("hospital")}


def rewritten(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- evaluation:{name} -->\n).*?(\n<!-- /evaluation:{name} -->)", re.S)
        text, n = pattern.subn(lambda m: m.group(1) + make() + m.group(2), text)
        assert n == 1, f"marker evaluation:{name} missing from {DOC}"
    return text


@pytest.mark.parametrize("name", SECTIONS)
def test_the_docs_tables_are_the_codes(name):
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- evaluation:{name} -->\n(.*?)\n<!-- /evaluation:{name} -->", text, re.S)
    assert match, f"marker evaluation:{name} missing"
    assert match.group(1) == SECTIONS[name](), f"docs/evaluation.md ({name}) is out of date: run {__file__}"


if __name__ == "__main__":
    DOC.write_text(rewritten(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    sys.exit(0)
