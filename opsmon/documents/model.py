"""A tiny document model, independent of the output format.

A :class:`Document` is a title, a few lines under it (issuer, date) and a list of
blocks: :class:`Heading`, :class:`Paragraph`, :class:`Table`, :class:`Figure` and
:class:`PageBreak`. Builders (:mod:`opsmon.documents.bulletin`) produce it from data;
renderers (:mod:`opsmon.documents.docx_render`, :mod:`opsmon.documents.pdf_render`)
turn it into bytes. Every text is final: the renderers format nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Align = Literal["left", "center", "right"]


@dataclass(frozen=True)
class Heading:
    """A section heading; *level* 1 (一、…) or 2 (（一）…)."""

    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain Chinese prose (first line indented by the renderers)."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table: a header row and rows of cell texts, with a caption above it.

    *column_align* gives each column's alignment (default: the first column left,
    the others right — names first, then numbers). *note* is a small line under the
    table (a footnote: 近似, sources).
    """

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    column_align: tuple[Align, ...] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        width = len(self.headers)
        bad = [i for i, row in enumerate(self.rows) if len(row) != width]
        if bad:
            raise ValueError(f"table {self.caption!r}: rows {bad} do not have {width} cells")
        if self.column_align is not None and len(self.column_align) != width:
            raise ValueError(f"table {self.caption!r}: column_align has {len(self.column_align)} entries, not {width}")

    @property
    def alignments(self) -> tuple[Align, ...]:
        """Each column's alignment (the explicit one, or left for the first column and right for the rest)."""
        if self.column_align is not None:
            return self.column_align
        return ("left",) + ("right",) * (len(self.headers) - 1)


@dataclass(frozen=True)
class Figure:
    """A picture (PNG bytes) *width_cm* wide, centred, with a caption under it."""

    png: bytes
    caption: str = ""
    width_cm: float = 15.0


@dataclass(frozen=True)
class PageBreak:
    """Start a new page."""


Block = Heading | Paragraph | Table | Figure | PageBreak


@dataclass(frozen=True)
class Document:
    """A document: *title*, the *subtitle* lines under it (issuer, date) and its *blocks* in order."""

    title: str
    subtitle: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = field(default_factory=tuple)
