"""The header row: where it is, which report it belongs to, and which field each column holds.

A header cell names a field by its Chinese label (with or without a trailing unit such as
“（元）”) or by its code, in any width of characters and spacing (:func:`match_header`). The
header row is the first with a hospital-code column; the kind of report is told by the columns
it names (:func:`detect_kind`), and :func:`match_columns` maps each field to its column with the
header's problems: duplicate, missing, unknown and unnamed columns.
"""

from __future__ import annotations

import re
import unicodedata

from opsmon.ingest.fields import FIELDS, KIND_MARKERS, KINDS, Kind
from opsmon.ingest.problems import Problem, make_problem, shown_value

_WS = re.compile(r"\s+")
_TRAILING_GROUP = re.compile(r"(\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】)$")
# Dashes of any width and length (the labels' “—” in 应收医疗款—医保, a typed “-” or “——”) read as one.
_DASHES = re.compile(r"[\u2010-\u2015\u2212\-]+")
# A trailing group that states a unit (after _norm): “（元）”, “(单位：万元)”, “（人次）” … Only the
# field's own unit may be ignored: “收入合计（万元）” holds amounts 10,000 times too small, and no
# plausibility check catches a slip that size; it is an error, not a column read as 元.
_UNIT_GROUP = re.compile(r"^[(\[【](?:单位[:：]?)?(?:人民币)?([百千万亿]*)(元|人次|床日|张|床|人|个|项|次|天|日)[)\]】]$")


def _norm(text: str) -> str:
    return _DASHES.sub("-", _WS.sub("", unicodedata.normalize("NFKC", text)).casefold())


def _lookup(kind: Kind) -> dict[str, str]:
    """Normalised code / label / label without its own trailing bracket group → field code."""
    table: dict[str, str] = {}
    for f in FIELDS[kind]:
        label = _norm(f.label)
        table.setdefault(_TRAILING_GROUP.sub("", label), f.code)  # 能源费用（水电气热） also as 能源费用
    for f in FIELDS[kind]:
        table[_norm(f.label)] = f.code
        table[_norm(f.code)] = f.code
    return table


LOOKUPS: dict[Kind, dict[str, str]] = {k: _lookup(k) for k in KINDS}


UNITS: dict[Kind, dict[str, str | None]] = {k: {f.code: f.unit for f in FIELDS[k]} for k in KINDS}


def _match(text: str, kind: Kind) -> tuple[str | None, str | None]:
    """(field code, the unit the cell states when it is not the field's own) for a header cell.

    The cell is compared as the spec says — spaces trimmed, full-width folded to half-width —
    with its code, its label, or its label without a trailing bracket group (v1 accepted
    “能源费用” for 能源费用（水电气热）); up to three trailing groups are dropped on the way,
    e.g. a unit “（元）”. A dropped group that names another unit (“（万元）”) is returned.
    """
    n = _norm(text)
    table = LOOKUPS[kind]
    units: list[tuple[str, str]] = []  # (scale, base) of the unit groups dropped
    for _ in range(4):
        if n in table:
            code = table[n]
            own = UNITS[kind][code]
            # Another scale (万元, 万人次) or money against a count: another unit. A synonym of the
            # same scale (床 for 张, 次 for 人次) is the same number and passes, as it did in v1.
            wrong = next((scale + base for scale, base in units
                          if own and (scale or (base == "元") != (own == "元"))), None)
            return code, wrong
        stripped = _TRAILING_GROUP.sub("", n)
        if stripped == n or not stripped:
            return None, None
        unit = _UNIT_GROUP.match(n[len(stripped):])
        if unit:
            units.append((unit.group(1), unit.group(2)))
        n = stripped
    return None, None


def match_header(text: str, kind: Kind) -> str | None:
    """The field code a header cell names in *kind* (full label first, then without a trailing unit).

    None when it names none, or names a field in a unit other than the field's (see :func:`_match`).
    """
    code, wrong_unit = _match(text, kind)
    return None if wrong_unit else code


def _is_hospital_code_header(text: str) -> bool:
    return match_header(text, "monthly") == "hospital_code"


def find_header_row(texts: list[list[str]]) -> int | None:
    """The position of the header row in *texts*: the first row with a hospital-code column."""
    return next((i for i, r in enumerate(texts) if any(_is_hospital_code_header(c) for c in r)), None)


def first_data_row(texts: list[list[str]], header_at: int, kind: Kind) -> int:
    """The position of the first row after the header at *header_at* that does not repeat it.

    A template may carry a row of codes under the row of labels: rows right below the header
    whose hospital-code column holds a header again are skipped.
    """
    header = texts[header_at]
    code_cols = [j for j, h in enumerate(header) if match_header(h, kind) == "hospital_code"]
    at = header_at + 1
    while at < len(texts) and any(j < len(texts[at]) and _is_hospital_code_header(texts[at][j]) for j in code_cols):
        at += 1
    return at


def detect_kind(header: list[str]) -> Kind | None:
    """The kind whose marker columns *header* names, the one naming most of its columns; None if unclear."""
    scores: dict[Kind, int] = {}
    for k in KINDS:
        codes = {match_header(h, k) for h in header if h}
        if any(m in codes for m in KIND_MARKERS[k]):
            scores[k] = len(codes - {None, "hospital_code", "period"})
    if not scores:
        return None
    best = max(scores.values())
    winners = [k for k, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 else None


# An unknown or unnamed column is one warning for all of them, naming this many.
SHOWN_COLUMNS = 5


def match_columns(header: list[str], header_row: int, body: list[list[str]], kind: Kind
                  ) -> tuple[dict[str, int], dict[str, str], list[Problem]]:
    """Field code → column position and header text, with the header's problems.

    Columns that are not the report's are one warning (and unnamed columns holding data
    another), however many there are: it counts them and names the first few.
    """
    by_code = {f.code: f for f in FIELDS[kind]}
    positions: dict[str, int] = {}
    columns: dict[str, str] = {}
    problems: list[Problem] = []
    unknown: list[int] = []
    unnamed: list[int] = []
    misunit: set[str] = set()
    width = max([len(header), *(len(r) for r in body)])
    for j in range(width):
        text = header[j] if j < len(header) else ""
        if not text.strip():
            if any(j < len(r) and r[j].strip() for r in body):
                unnamed.append(j)
            continue
        code, wrong_unit = _match(text, kind)
        if wrong_unit:
            # A column of the report in the wrong unit: refused, never read as if in its own unit.
            problems.append(make_problem("wrong_unit", row=header_row, field=by_code[code], value=text,
                                         letter=_letter(j), unit=wrong_unit, own=by_code[code].unit))
            misunit.add(code)  # named, so not also "missing"; never read
        elif code is None:
            unknown.append(j)
        elif code in positions:
            first = positions[code]
            problems.append(make_problem("duplicate_column", row=header_row, field=by_code[code], value=text,
                                         letter=_letter(j), first=header[first], first_letter=_letter(first)))
        else:
            positions[code] = j
            columns[code] = text
    if len(unknown) == 1:
        (j,) = unknown
        problems.append(make_problem("unknown_column", row=header_row, value=header[j], severity="warning",
                                     letter=_letter(j)))
    elif unknown:
        shown = unknown[:SHOWN_COLUMNS]
        more = len(unknown) > len(shown)
        zh = "、".join(f"第 {_letter(j)} 列“{shown_value(header[j])}”" for j in shown) + ("等" if more else "")
        en = ", ".join(f'{_letter(j)} "{shown_value(header[j])}"' for j in shown) + (", …" if more else "")
        problems.append(make_problem("unknown_column", variant="many", row=header_row, severity="warning",
                                     count=f"{len(unknown):,}", names_zh=zh, names_en=en))
    if len(unnamed) == 1:
        (j,) = unnamed
        problems.append(make_problem("unknown_column", variant="blank", row=header_row, value="",
                                     severity="warning", letter=_letter(j)))
    elif unnamed:
        shown = [_letter(j) for j in unnamed[:SHOWN_COLUMNS]]
        more = len(unnamed) > len(shown)
        problems.append(make_problem("unknown_column", variant="blank_many", row=header_row, severity="warning",
                                     count=f"{len(unnamed):,}",
                                     letters_zh="第 " + "、".join(shown) + (" 等列" if more else " 列"),
                                     letters_en=", ".join(shown) + (", …" if more else "")))
    problems += [make_problem("missing_column", row=header_row, field=f)
                 for f in FIELDS[kind] if f.required and f.code not in positions and f.code not in misunit]
    return positions, columns, problems


def _letter(j: int) -> str:
    """The letters Excel shows for the column at position *j* (from 0: A)."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - openpyxl is loaded for workbooks only

    return get_column_letter(j + 1)  # openpyxl counts from 1
