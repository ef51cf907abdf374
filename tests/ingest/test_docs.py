"""docs/submission-format.md lists every column of fields.py and every problem code, and its tables are current.

The column tables between ``<!-- fields:KIND -->`` markers are generated from fields.py;
after changing fields.py, rewrite them with::

    python tests/ingest/test_docs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from opsmon.ingest import problems
from opsmon.ingest.fields import FIELDS, KINDS, Field

DOC = Path(__file__).resolve().parents[2] / "docs" / "submission-format.md"

TYPES = {
    "uscc": "18 位统一社会信用代码",
    "period": "年月，如 2025-03",
    "bool": "是 / 否",
    "text": "文字",
    "adcode": "6 位县级行政区划代码",
}


def describe(f: Field) -> str:
    """The 填写要求 cell of a field."""
    if f.type == "money":
        return "金额（元），最多 2 位小数；" + ("期末数" if f.stock else "本月数")
    if f.type == "count":
        return f"非负整数（{f.unit}）" + ("；期末数" if f.stock else "")
    if f.type == "enum":
        return "可选：" + " / ".join(f.values)
    return TYPES[f.type]


def column_table(kind: str) -> str:
    """The markdown table of *kind*'s columns, in template order."""
    lines = ["| 列名（表头） | 代码 | 填写要求 | 必填 |", "|---|---|---|---|"]
    lines += [f"| {f.header} | `{f.code}` | {describe(f)} | {'是' if f.required else '否'} |" for f in FIELDS[kind]]
    return "\n".join(lines)


def _block(kind: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- fields:{kind} -->\n)(.*?)(\n<!-- /fields:{kind} -->)", re.DOTALL)


def rewrite(text: str) -> str:
    """*text* with every generated table replaced by the current one."""
    for kind in KINDS:
        text = _block(kind).sub(lambda m, k=kind: m.group(1) + column_table(k) + m.group(3), text)
    return text


def problem_codes() -> set[str]:
    """Every code a Problem can carry (variants share their code): the registry holds them all."""
    return {key.split(".")[0] for key in problems.MESSAGES}


@pytest.mark.parametrize("kind", KINDS)
def test_the_column_tables_are_generated_from_fields_py(kind):
    match = _block(kind).search(DOC.read_text(encoding="utf-8"))
    assert match, f"docs/submission-format.md has no <!-- fields:{kind} --> block"
    assert match.group(2) == column_table(kind), "stale table: run python tests/ingest/test_docs.py"


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_label_and_code_is_listed(kind):
    text = DOC.read_text(encoding="utf-8")
    for f in FIELDS[kind]:
        assert f"| {f.header} | `{f.code}` |" in text


def test_every_problem_code_is_explained():
    text = DOC.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", text, re.MULTILINE))
    assert listed == problem_codes()


if __name__ == "__main__":
    DOC.write_text(rewrite(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"rewrote the column tables of {DOC}", file=sys.stderr)
