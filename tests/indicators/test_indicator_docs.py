"""docs/indicators.md defines every catalogue entry and risk rule, and its tables are the code's.

The tables between ``<!-- indicators:NAME -->`` markers are generated from
opsmon/indicators/catalogue.py (the indicators, the 近似 list, the trailing means) and
opsmon/indicators/risk_rules.py (the risk rules); after changing either, rewrite them with::

    python tests/indicators/test_indicator_docs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from opsmon.indicators.catalogue import CATALOGUE, TRAILING, Indicator
from opsmon.indicators.risk_rules import LEVEL_LABELS, OP_TEXT, RULES, RiskRule, format_value

DOC = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"
GROUPS = ("programme", "financial", "counts")
DIRECTIONS = {"up": "↑", "down": "↓", "monitor": "监测", "target": "目标", "none": "—"}
BASES = {"flow": "流量（按口径累计）", "stock": "期末数", "status": "进展状态（截至报告期）", "roster": "名册（截至报告期）"}


def code(expression: str) -> str:
    """An SQL expression as inline code."""
    return f"`{expression}`"


def definition(ind: Indicator) -> str:
    """The 定义 cell: what is summed and divided, over whom."""
    if ind.kind == "growth":
        base = f"{code(ind.numerator)} / {code(ind.denominator)}" if ind.denominator else code(ind.numerator)
        text = f"同比增幅：({base}) ÷ 上年同期 − 1"
    elif ind.kind == "ratio":
        text = f"Σ {code(ind.numerator)} / Σ {code(ind.denominator)}"
    else:
        text = f"Σ {code(ind.numerator)}"
    if ind.factor != 1:
        text += f" × {ind.factor:g}"
    if ind.population:
        text += f"；范围：{code(ind.population)}"
    if ind.span:
        text += f"；固定口径 {ind.span}"
    if ind.note:
        text += f"。{ind.note}"
    return text


def approximation(ind: Indicator) -> str:
    """The 近似 cell: the stand-in for a hospital lacking optional fields, and what it needs."""
    parts = []
    if ind.approximation:
        a = ind.approximation
        stand_in = []
        if a.numerator:
            stand_in.append(f"分子 {code(a.numerator)}")
        if a.denominator:
            stand_in.append(f"分母 {code(a.denominator)}")
        needs = "、".join(code(f) for f in a.needs)
        parts.append(f"缺 {needs}：" + ("，".join(stand_in) if stand_in else "按原式计算") + f"，标记近似（{a.note}）")
    if ind.requires:
        parts.append("缺 " + "、".join(code(f) for f in ind.requires) + "：该院不计入（无值）")
    return "；".join(parts) or "—"


def table(group: str) -> str:
    """The markdown table of *group*'s entries, in catalogue order."""
    lines = ["| id | 中文 | 定义 | 口径 | 单位 | 方向 | 近似 / 缺项 | 来源 |", "|---|---|---|---|---|---|---|---|"]
    for ind in CATALOGUE:
        if ind.group != group:
            continue
        lines.append(f"| `{ind.id}` | {ind.zh} | {definition(ind)} | {BASES[ind.basis]} | {ind.unit or '—'} | "
                     f"{DIRECTIONS[ind.direction]} | {approximation(ind)} | {ind.source or '—'} |")
    return "\n".join(lines)


def trailing_table() -> str:
    """The trailing means of ``ind_month`` the stock ratios read."""
    lines = ["| 列 | 定义 | 窗口 |", "|---|---|---|"]
    lines += [f"| `{t.column}` | 已报月份 {code(t.expression)} 的月均值 | 近 {t.months} 个月 |" for t in TRAILING]
    return "\n".join(lines)


def approx_table() -> str:
    """The entries a missing optional field affects: 近似 (a stand-in, flagged) or no value."""
    lines = ["| id | 中文 | 缺少的栏目 | 结果 |", "|---|---|---|---|"]
    for ind in CATALOGUE:
        if ind.approximation:
            needs = "、".join(code(f) for f in ind.approximation.needs)
            lines.append(f"| `{ind.id}` | {ind.zh} | {needs} | 近似：{ind.approximation.note} |")
        if ind.requires:
            lines.append(f"| `{ind.id}` | {ind.zh} | {'、'.join(code(f) for f in ind.requires)} | 该院不计入（无值） |")
    return "\n".join(lines)


WINDOWS = {"month": "报告期末", "12m": "近12个月，须连续报送", "12m_change": "与12个月前同月比",
           "streak": "逐月相连的月份", "forecast": "近12个月趋势，预测未来6个月"}


def conditions(rule: RiskRule) -> str:
    """The 条件 cell: each condition's metric, window and thresholds by level, mildest first."""
    parts = []
    for cond in rule.conditions:
        levels = "，".join(f"{OP_TEXT[cond.op]} {format_value(value, cond.unit, threshold=True)} "
                          f"{LEVEL_LABELS[level][0]}" for level, value in cond.levels)
        parts.append(f"{code(cond.metric)}（{WINDOWS[cond.window]}）{levels}")
    text = "；或 ".join(parts)
    if len(rule.conditions) > 1:
        text += "；取较高者"
    for level, other in rule.escalations:
        text += f"；与 {code(other)} 同月触发时升为{LEVEL_LABELS[level][0]}"
    return text


def risks_table() -> str:
    """The risk rules of risk_rules.RULES, in their order."""
    lines = ["| id | 中文 | 条件与级别（默认阈值） | 说明 | 来源 |", "|---|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.zh} | {conditions(r)} | {r.description or '—'} | {r.source or '—'} |" for r in RULES]
    return "\n".join(lines)


BLOCKS = {**{group: (lambda g=group: table(g)) for group in GROUPS}, "trailing": trailing_table,
          "approx": approx_table, "risks": risks_table}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- indicators:{name} -->\n)(.*?)(\n<!-- /indicators:{name} -->)", re.DOTALL)


def rewrite(text: str) -> str:
    """*text* with every generated table replaced by the current one."""
    for name, render in BLOCKS.items():
        text = _block(name).sub(lambda m, r=render: m.group(1) + r() + m.group(3), text)
    return text


@pytest.mark.parametrize("name", list(BLOCKS))
def test_the_tables_are_generated_from_the_catalogue(name):
    match = _block(name).search(DOC.read_text(encoding="utf-8"))
    assert match, f"docs/indicators.md has no <!-- indicators:{name} --> block"
    assert match.group(2) == BLOCKS[name](), "stale table: run python tests/indicators/test_indicator_docs.py"


def test_every_entry_is_defined_once_under_its_official_name():
    text = DOC.read_text(encoding="utf-8")
    tables = "\n".join(_block(group).search(text).group(2) for group in GROUPS)
    listed = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", tables, re.MULTILINE)
    ids = [i for i, _ in listed]
    assert sorted(ids) == sorted(ind.id for ind in CATALOGUE)
    assert dict((i, zh.strip()) for i, zh in listed) == {ind.id: ind.zh for ind in CATALOGUE}


def test_every_risk_rule_is_listed_once_under_its_name():
    match = _block("risks").search(DOC.read_text(encoding="utf-8"))
    listed = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", match.group(2), re.MULTILINE)
    assert [i for i, _ in listed] == [r.id for r in RULES]
    assert {i: zh.strip() for i, zh in listed} == {r.id: r.zh for r in RULES}


def test_the_risk_table_states_the_spec_thresholds():
    # Typed from spec/indicators.md (risk rules v2), not from the code: the page says what the spec says.
    text = _block("risks").search(DOC.read_text(encoding="utf-8")).group(2)
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9_]+)` .*$", text, re.MULTILINE)}
    assert "< 0% 橙色，< −5% 红色" in rows["deficit_12m"]
    assert "≥ 50% 黄色，≥ 70% 橙色" in rows["debt_ratio_high"]
    assert "≥ 20% 黄色，≥ 35% 橙色；或" in rows["long_term_debt"] and "取较高者" in rows["long_term_debt"]
    assert "与 `deficit_12m` 同月触发时升为橙色" in rows["deficit_streak"]
    assert "< 1个月 橙色，< 0.5个月 红色" in rows["cash_short"]
    assert "> 90天 黄色，> 150天 橙色" in rows["receivable_days_high"]
    assert "> 90天 黄色，> 180天 橙色" in rows["supplier_payable_days_high"]
    assert "< 1 橙色" in rows["liquidity_low"]


if __name__ == "__main__":
    DOC.write_text(rewrite(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"rewrote the generated tables of {DOC}", file=sys.stderr)
