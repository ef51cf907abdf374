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
