"""Score sheets (评分表) as data: read from YAML or XLSX, checked row by row, stored as a new version.

A sheet is a list of items — section, item, what earns the points (criteria), the maximum score,
the evidence expected, and optionally a catalogue indicator whose value *proposes* a score through
bands (``[[0.5, 10], [0.3, 6]]``: a value reaching 0.5 earns 10, reaching 0.3 earns 6, else 0;
"reaching" follows the indicator's direction — at least for ``up``, at most for ``down``).

Two sheets ship as editable defaults (``sheets/commission.yaml`` for 市县卫生健康委, 附件2;
``sheets/hospital.yaml`` for hospitals, 附件3), built from the campaign's tasks. A new campaign
year is a new version; a round keeps the sheet it was created with.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
import yaml
from openpyxl import load_workbook
from sqlalchemy.engine import Connection, Engine

from opsmon.access import audit
from opsmon.indicators import catalogue
from opsmon.sql.db import connection

KINDS = {"commission": "市县卫生健康委", "hospital": "医院"}
# (code, zh header, required): the columns of an XLSX sheet, in this order in the template.
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("code", "编码", True),
    ("section", "评价内容", True),
    ("item", "评价项目", True),
    ("criteria", "评分标准", True),
    ("max_score", "分值", True),
    ("evidence", "佐证材料", True),
    ("indicator", "关联指标", False),
    ("bands", "数据测算档次", False),
)
_CODE = re.compile(r"^[0-9A-Za-z._-]{1,20}$")
_VERSION = re.compile(r"^[0-9A-Za-z._-]{1,40}$")
MAX_ITEMS = 200


class SheetError(ValueError):
    """A sheet file that cannot be loaded; ``problems`` lists every finding (row, column, message)."""

    def __init__(self, problems: list[str]):
        super().__init__("评分表有误：\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Item:
    """One line of a score sheet."""

    code: str
    section: str
    item: str
    criteria: str
    max_score: float
    evidence: str = ""
    indicator: str | None = None
    bands: tuple[tuple[float, float], ...] | None = None

    def propose(self, value: float | None) -> float | None:
        """The score the indicator's *value* earns (None without an indicator or a value)."""
        if self.indicator is None or self.bands is None or value is None or math.isnan(value):
            return None
        down = catalogue.get(self.indicator).direction == "down"
        earned = [score for threshold, score in self.bands
                  if (value <= threshold + 1e-12 if down else value >= threshold - 1e-12)]
        return max(earned, default=0.0)


@dataclass(frozen=True)
class Sheet:
    """A score sheet: its kind (commission or hospital), version, name and items."""

    kind: str
    version: str
    name: str
    items: tuple[Item, ...] = field(default_factory=tuple)

    @property
    def max_total(self) -> float:
        return float(sum(i.max_score for i in self.items))


# ── reading ──────────────────────────────────────────────────────────────────────────────────────

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TEXT = 2000


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _cell_problem(value: Any) -> str | None:
    """Why a cell's value cannot be a sheet's text or number (a list, a mapping, control characters, too long)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None if value is None else "应为文字或数字"
    text = str(value)
    if _CONTROL.search(text):
        return "含有不可见的控制字符"
    if len(text) > MAX_TEXT:
        return f"过长（至多 {MAX_TEXT} 字）"
    return None


def _number(text: str) -> float:
    text = text.strip().replace("％", "%")
    if text.endswith("%"):
        return float(text[:-1]) / 100
    return float(text)


def parse_bands(value: Any) -> tuple[tuple[float, float], ...]:
    """Bands from a list of pairs (YAML) or text ``"50%:10; 30%:6"`` (XLSX); ``ValueError`` when malformed."""
    if isinstance(value, (list, tuple)):
        pairs = [(float(p[0]), float(p[1])) for p in value if isinstance(p, (list, tuple)) and len(p) == 2]
        if len(pairs) != len(value):
            raise ValueError("每档应为 [阈值, 分值]")
    else:
        parts = [p for p in re.split(r"[;；,，]", _text(value)) if p.strip()]
        pairs = []
        for part in parts:
            threshold, sep, score = part.replace("：", ":").partition(":")
            if not sep:
                raise ValueError(f"“{part.strip()}”应写作 阈值:分值，如 50%:10")
            pairs.append((_number(threshold.lstrip("≥≤>=< ")), float(score)))
    if not pairs:
        raise ValueError("至少需要一档")
    if not all(math.isfinite(t) and math.isfinite(v) for t, v in pairs):
        raise ValueError("阈值和分值都应为有限的数")
    if any(round(v, 1) != v for _, v in pairs):
        raise ValueError("各档分值至多保留一位小数")
    return tuple(pairs)


def unreachable(bands: tuple[tuple[float, float], ...], down: bool) -> bool:
    """Whether some band can never be the proposal: scores must rise strictly as the threshold gets harder
    to reach (higher for ↑ indicators, lower for ↓ ones); otherwise an easier band outscores a harder one."""
    ordered = sorted(bands, key=lambda b: -b[0] if down else b[0])  # easiest first
    return any(b[1] <= a[1] or b[0] == a[0] for a, b in zip(ordered, ordered[1:]))


def _check_row(where: str, raw: dict[str, Any], problems: list[str]) -> Item | None:
    """One row as an :class:`Item`, or None with its problems added (each names *where* and the column)."""
    found = len(problems)
    for code, zh, _ in COLUMNS:
        if code != "bands" and (why := _cell_problem(raw.get(code))):
            problems.append(f"{where} {zh}（{code}）：{why}")
    if len(problems) > found:
        return None
    values = {code: _text(raw.get(code)) for code, _, _ in COLUMNS if code != "bands"}
    for code, zh, required in COLUMNS:
        if required and code != "evidence" and not _text(raw.get(code)):
            problems.append(f"{where} {zh}（{code}）：不能为空")
    if values["code"] and not _CODE.match(values["code"]):
        problems.append(f"{where} 编码（code）：“{values['code']}”只能含字母、数字、点、横线，至多20个字符")
    max_score = None
    if values["max_score"]:
        try:
            max_score = float(values["max_score"])
            if not (0 < max_score <= 1000) or round(max_score, 1) != max_score:
                raise ValueError
        except ValueError:
            problems.append(f"{where} 分值（max_score）：“{values['max_score']}”应为大于0的数（至多一位小数）")
            max_score = None
    indicator = values["indicator"] or None
    bands = None
    if indicator:
        try:
            entry = catalogue.get(indicator)
        except (KeyError, ValueError):
            problems.append(f"{where} 关联指标（indicator）：“{indicator}”不是指标目录中的指标")
        else:
            if entry.direction not in ("up", "down"):
                problems.append(f"{where} 关联指标（indicator）：“{indicator}”为监测指标，没有好坏方向，不能用于评分")
        if raw.get("bands") in (None, "", []):
            problems.append(f"{where} 数据测算档次（bands）：有关联指标时不能为空")
        else:
            try:
                bands = parse_bands(raw.get("bands"))
            except (ValueError, TypeError) as e:
                problems.append(f"{where} 数据测算档次（bands）：{e}")
            else:
                if max_score is not None and any(s < 0 or s > max_score for _, s in bands):
                    problems.append(f"{where} 数据测算档次（bands）：各档分值应在0到分值{max_score:g}之间")
                elif entry_ok(indicator) and unreachable(bands, catalogue.get(indicator).direction == "down"):
                    problems.append(f"{where} 数据测算档次（bands）：越难达到的档次分值应越高，否则有的档次永远用不上")
    elif raw.get("bands") not in (None, "", []):
        problems.append(f"{where} 数据测算档次（bands）：没有关联指标时应为空")
    if len(problems) > found:
        return None
    return Item(values["code"], values["section"], values["item"], values["criteria"], max_score,
                values["evidence"], indicator, bands)


def entry_ok(indicator: str) -> bool:
    """Whether *indicator* is a catalogue entry with a direction (scores can follow it)."""
    return indicator in catalogue.BY_ID and catalogue.get(indicator).direction in ("up", "down")


def _check_sheet(kind: Any, version: Any, name: Any, rows: list[tuple[str, dict[str, Any]]],
                 problems: list[str]) -> Sheet:
    for label, value in (("种类（kind）", kind), ("版本（version）", version), ("名称（name）", name)):
        if why := _cell_problem(value):
            problems.append(f"{label}：{why}")
    kind, version, name = _text(kind), _text(version), _text(name)
    if kind not in KINDS:
        problems.append(f"种类（kind）：“{kind}”应为 commission（市县卫生健康委）或 hospital（医院）")
    if not _VERSION.match(version):
        problems.append(f"版本（version）：“{version}”应为年份等短编号，如 2026")
    if not name:
        problems.append("名称（name）：不能为空")
    if not rows:
        problems.append("评分表没有任何评价项目")
    if len(rows) > MAX_ITEMS:
        problems.append(f"评价项目过多：{len(rows)} 项（至多 {MAX_ITEMS} 项）")
    items = [_check_row(where, raw, problems) for where, raw in rows]
    seen: dict[str, str] = {}
    for where, raw in rows:
        code = _text(raw.get("code")) if _cell_problem(raw.get("code")) is None else ""
        if code and code.casefold() in seen:
            problems.append(f"{where} 编码（code）：“{code}”与{seen[code.casefold()]}重复（不分大小写）")
        seen.setdefault(code.casefold(), where)
    if problems:
        raise SheetError(problems)
    return Sheet(kind, version, name, tuple(items))


def read_yaml(content: bytes | str, *, kind: str | None = None, version: str | None = None,
              name: str | None = None) -> Sheet:
    """A sheet from YAML (``kind``, ``version``, ``name``, ``items``: a list of mappings with the
    column codes); the keyword arguments override the file's. ``SheetError`` lists every problem."""
    try:
        # Aliases (*name) can multiply a small file into gigabytes ("billion laughs"): a sheet needs none.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(content, Loader=yaml.SafeLoader)):
            raise SheetError(["YAML 文件不能使用别名（*名称）：请把内容直接写出"])
        data = yaml.safe_load(content)
    except yaml.YAMLError as e:
        raise SheetError([f"不是有效的 YAML 文件：{e}"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise SheetError(["YAML 文件应含 kind、version、name 和 items（评价项目列表）"])
    problems: list[str] = []
    rows = []
    for n, raw in enumerate(data["items"], start=1):
        if not isinstance(raw, dict):
            problems.append(f"第{n}项：应为键值对（code、section、item…）")
            continue
        unknown = sorted(set(map(str, raw)) - {c for c, _, _ in COLUMNS})
        if unknown:
            problems.append(f"第{n}项：未知的键 {', '.join(unknown)}")
        rows.append((f"第{n}项", raw))
    return _check_sheet(kind or data.get("kind"), version or data.get("version"), name or data.get("name"),
                        rows, problems)


def read_xlsx(content: bytes, *, kind: str | None, version: str | None, name: str | None) -> Sheet:
    """A sheet from the first worksheet of an XLSX file: title rows may come first; the header row is
    the first with the 编码 column (zh headers or column codes). Rows are numbered as Excel shows them."""
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
        raise SheetError([f"不是有效的 XLSX 文件：{type(e).__name__}"]) from None
    cells = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    by_header = {h: c for c, zh, _ in COLUMNS for h in (c, zh)}
    header_at = next((i for i, r in enumerate(cells[:20]) if any(_text(v) in ("编码", "code") for v in r)), None)
    if header_at is None:
        raise SheetError(["没有找到表头行（应含“编码”列）"])
    header = [by_header.get(_text(v)) for v in cells[header_at]]
    missing = [f"{zh}（{c}）" for c, zh, required in COLUMNS if required and c not in header]
    if missing:
        raise SheetError([f"第{header_at + 1}行（表头）缺少列：{'、'.join(missing)}"])
    rows = []
    for n, values in enumerate(cells[header_at + 1:], start=header_at + 2):
        raw = {code: v for code, v in zip(header, values) if code}
        if any(_text(v) for v in raw.values()):
            rows.append((f"第{n}行", raw))
    return _check_sheet(kind, version, name, rows, [])


def read(path_or_name: str | Path, content: bytes, *, kind: str | None = None, version: str | None = None,
         name: str | None = None) -> Sheet:
    """A sheet from a file's bytes, YAML or XLSX by content (an XLSX is a zip)."""
    if content.startswith(b"PK\x03\x04"):
        return read_xlsx(content, kind=kind, version=version, name=name)
    if Path(str(path_or_name)).suffix.lower() in (".xlsx", ".xls"):
        raise SheetError(["不是有效的 XLSX 文件"])
    return read_yaml(content, kind=kind, version=version, name=name)


def default_text(kind: str) -> str:
    """The shipped default sheet of *kind* as YAML text (to edit, then load)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return resources.files("opsmon.evaluation").joinpath(f"sheets/{kind}.yaml").read_text(encoding="utf-8")


def default(kind: str) -> Sheet:
    """The shipped default sheet of *kind*."""
    return read_yaml(default_text(kind))


# ── storing and reading back ────────────────────────────────────────────────────────────────────

def store(engine: Engine, sheet: Sheet, *, username: str, source_name: str | None = None,
          address: str | None = None) -> int:
    """Store *sheet* as a new version; its id. ``SheetError`` when that kind and version exist already."""
    try:
        return _store(engine, sheet, username=username, source_name=source_name, address=address)
    except sa.exc.IntegrityError:  # the same version stored at the same moment by someone else
        raise SheetError([f"{KINDS[sheet.kind]}评分表 {sheet.version} 版已存在"]) from None


def _store(engine: Engine, sheet: Sheet, *, username: str, source_name: str | None, address: str | None) -> int:
    with engine.begin() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM score_sheets WHERE kind = :k AND version = :v"),
                              {"k": sheet.kind, "v": sheet.version}).first()
        if exists:
            raise SheetError([f"{KINDS[sheet.kind]}评分表 {sheet.version} 版已存在：新的一年请用新的版本号"
                              "（已用于评价的评分表不能改）"])
        sheet_id = conn.execute(sa.text(
            "INSERT INTO score_sheets (kind, version, name, source_name, loaded_by) "
            "VALUES (:k, :v, :n, :s, :u) RETURNING sheet_id"),
            {"k": sheet.kind, "v": sheet.version, "n": sheet.name, "s": source_name, "u": username}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO score_items (sheet_id, item_code, position, section, item, criteria, max_score, evidence, "
            "indicator, bands) VALUES (:sid, :code, :pos, :section, :item, :criteria, :max_score, :evidence, "
            ":indicator, CAST(:bands AS jsonb))"),
            [{"sid": sheet_id, "code": i.code, "pos": n, "section": i.section, "item": i.item,
              "criteria": i.criteria, "max_score": i.max_score, "evidence": i.evidence, "indicator": i.indicator,
              "bands": None if i.bands is None else json.dumps([list(b) for b in i.bands])}
             for n, i in enumerate(sheet.items, start=1)])
        audit.record(conn, "scoresheet.load", username=username, address=address, object=str(sheet_id),
                     details={"kind": sheet.kind, "version": sheet.version, "items": len(sheet.items),
                              "file": source_name})
    return sheet_id


def load(db: Engine | Connection, sheet_id: int) -> Sheet:
    """The stored sheet *sheet_id*."""
    with connection(db) as conn:
        head = conn.execute(sa.text("SELECT kind, version, name FROM score_sheets WHERE sheet_id = :i"),
                            {"i": sheet_id}).one()
        rows = conn.execute(sa.text(
            "SELECT item_code, section, item, criteria, CAST(max_score AS float8) AS max_score, evidence, "
            "indicator, bands FROM score_items WHERE sheet_id = :i ORDER BY position"), {"i": sheet_id}).all()
    return Sheet(head.kind, head.version, head.name, tuple(
        Item(r.item_code, r.section, r.item, r.criteria, r.max_score, r.evidence, r.indicator,
             None if r.bands is None else tuple((float(t), float(s)) for t, s in r.bands)) for r in rows))


def listing(engine: Engine) -> pd.DataFrame:
    """Every stored sheet: sheet_id, kind, version, name, items, max_total, loaded_by, loaded_at."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT s.sheet_id, s.kind, s.version, s.name, count(i.item_code) AS items, "
            "CAST(sum(i.max_score) AS float8) AS max_total, s.loaded_by, s.loaded_at "
            "FROM score_sheets s LEFT JOIN score_items i USING (sheet_id) "
            "GROUP BY s.sheet_id ORDER BY s.kind, s.version"), conn)


def find(engine: Engine, kind: str, version: str) -> int | None:
    """The id of sheet *kind* / *version*, or None."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT sheet_id FROM score_sheets WHERE kind = :k AND version = :v"),
                            {"k": kind, "v": version}).scalar()
