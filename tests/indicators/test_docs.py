"""docs/indicators.md defines every catalogue entry, and its tables are the catalogue's.

The tables between ``<!-- indicators:GROUP -->`` markers are generated from
opsmon/indicators/catalogue.py; after changing the catalogue, rewrite them with::

    python tests/indicators/test_docs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from opsmon.indicators.catalogue import CATALOGUE, TRAILING, Indicator

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


BLOCKS = {**{group: (lambda g=group: table(g)) for group in GROUPS}, "trailing": trailing_table}


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
    assert match.group(2) == BLOCKS[name](), "stale table: run python tests/indicators/test_docs.py"


def test_every_entry_is_defined_once_under_its_official_name():
    text = DOC.read_text(encoding="utf-8")
    tables = "\n".join(_block(group).search(text).group(2) for group in GROUPS)
    listed = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", tables, re.MULTILINE)
    ids = [i for i, _ in listed]
    assert sorted(ids) == sorted(ind.id for ind in CATALOGUE)
    assert dict((i, zh.strip()) for i, zh in listed) == {ind.id: ind.zh for ind in CATALOGUE}


if __name__ == "__main__":
    DOC.write_text(rewrite(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"rewrote the generated tables of {DOC}", file=sys.stderr)
