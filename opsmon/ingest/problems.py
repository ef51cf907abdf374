"""Problems found in a submitted file: errors reject it whole, warnings never block."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem, pointing where a person would look in Excel.

    ``row`` is the spreadsheet row number (the header row counts as its own row);
    ``row`` and ``column`` are None when the problem is the whole file or row.
    ``column`` is the field code (the UI shows its Chinese label).
    """

    row: int | None
    column: str | None
    value: str | None
    code: str
    message_zh: str
    message_en: str
    severity: Severity = "error"

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        """JSON-ready form; with *language* ('zh'/'en') a single ``message`` instead of both."""
        d = asdict(self)
        del d["severity"]
        if language:
            d["message"] = d.pop("message_zh") if language == "zh" else d.pop("message_en")
            d.pop("message_zh", None)
            d.pop("message_en", None)
        return d


def errors(problems: list[Problem]) -> list[Problem]:
    """The problems that reject a file."""
    return [p for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[Problem]:
    """The problems that are only reported."""
    return [p for p in problems if p.severity == "warning"]


# ---------------------------------------------------------------------------------------------
# At most this many problems of each severity are listed for a file; the rest are counted in one
# last problem. A clerk reads the first screenful, fixes the pattern and uploads again: a list of
# 400,000 identical messages helps nobody, and it is what made one small upload a 242 MB JSON
# document and a 546 MB preview (each problem is ~0.5 KB as a Python object, more as JSON / HTML).
MAX_ERRORS = 1_000
MAX_WARNINGS = 200
MORE_PROBLEMS = "more_problems"
MESSAGES: dict[str, tuple[str, str]] = {
    "more_problems.error": (
        "另有 {count} 条错误未列出（只列出前 {shown} 条）。请先按上面列出的错误改正文件（同类错误往往整列都有），"
        "重新上传后系统会再列出其余的错误",
        "{count} more errors not listed (only the first {shown} are shown). Correct the file for the errors above "
        "(the same mistake often runs down a whole column) and upload it again to see the rest",
    ),
    "more_problems.warning": (
        "另有 {count} 条提示未列出（只列出前 {shown} 条）",
        "{count} more warnings not listed (only the first {shown} are shown)",
    ),
}


def more_problems(severity: Severity, count: int, shown: int) -> Problem:
    """The problem that stands for *count* further problems of *severity* left off a list of *shown*."""
    zh, en = MESSAGES[f"{MORE_PROBLEMS}.{severity}"]
    args = {"count": f"{count:,}", "shown": f"{shown:,}"}
    return Problem(None, None, str(count), MORE_PROBLEMS, zh.format(**args), en.format(**args), severity)


def capped(problems: list[Problem], max_errors: int = MAX_ERRORS, max_warnings: int = MAX_WARNINGS) -> list[Problem]:
    """*problems* with at most *max_errors* errors and *max_warnings* warnings, in their order.

    The problems left off are counted in one last ``more_problems`` problem of their severity,
    which also takes in the counts of ``more_problems`` already in the list (a list capped before,
    as :func:`opsmon.ingest.parse.parse` caps its cell problems). A list with an error keeps one,
    so a file that is rejected stays rejected.
    """
    limits = {"error": max_errors, "warning": max_warnings}
    kept: list[Problem] = []
    shown = {"error": 0, "warning": 0}
    hidden = {"error": 0, "warning": 0}
    for p in problems:
        if p.code == MORE_PROBLEMS:
            hidden[p.severity] += int(p.value or 0)
        elif shown[p.severity] < limits[p.severity]:
            kept.append(p)
            shown[p.severity] += 1
        else:
            hidden[p.severity] += 1
    return kept + [more_problems(s, hidden[s], shown[s]) for s in ("error", "warning") if hidden[s]]


def total(problems: list[Problem]) -> int:
    """How many problems *problems* stands for: the listed ones and those a ``more_problems`` counts."""
    return sum(int(p.value or 0) if p.code == MORE_PROBLEMS else 1 for p in problems)
