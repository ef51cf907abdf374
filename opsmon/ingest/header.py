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


def _norm(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text)).casefold()


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


def match_header(text: str, kind: Kind) -> str | None:
    """The field code a header cell names in *kind* (full label first, then without a trailing unit)."""
    n = _norm(text)
    table = LOOKUPS[kind]
    for _ in range(3):
        if n in table:
            return table[n]
        stripped = _TRAILING_GROUP.sub("", n)
        if stripped == n or not stripped:
            return None
        n = stripped
    return None


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
    width = max([len(header), *(len(r) for r in body)])
    for j in range(width):
        text = header[j] if j < len(header) else ""
        if not text.strip():
            if any(j < len(r) and r[j].strip() for r in body):
                unnamed.append(j)
            continue
        code = match_header(text, kind)
        if code is None:
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
                 for f in FIELDS[kind] if f.required and f.code not in positions]
    return positions, columns, problems


def _letter(j: int) -> str:
    """The letters Excel shows for the column at position *j* (from 0: A)."""
    from openpyxl.utils import get_column_letter  # noqa: PLC0415 - openpyxl is loaded for workbooks only

    return get_column_letter(j + 1)  # openpyxl counts from 1
