"""A :class:`~opsmon.documents.model.Document` as PDF (fpdf2), the CJK font embedded as a subset.

The faces come from :mod:`opsmon.documents.fonts` (Noto Serif CJK SC for the body,
Noto Sans CJK SC Bold for headings, on Debian's ``fonts-noto-cjk``), cut down to the
document's characters as TrueType fonts (:func:`~opsmon.documents.fonts.truetype_subset`,
in a temporary folder) and embedded by fpdf2 (``FontFile2``, Identity-H with a
ToUnicode map): the PDF shows the same on a machine without the font, and its text can
be searched, copied and extracted. A4 portrait, page numbers in the footer.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TextEmphasis, WrapMode, XPos, YPos
from fpdf.fonts import FontFace as PdfFontFace

from opsmon import periods
from opsmon.documents import fonts
from opsmon.documents.model import Document, Figure, Heading, PageBreak, Paragraph, Table

BODY = "body"  # fpdf2 family names of the faces
HEADING = "heading"
BODY_PT = 11
LINE_MM = 6.4
MARGIN_MM = 20.0
_HEADING_PT = {1: 14, 2: 12, 3: 11}
_ALIGN = {"left": "LEFT", "center": "CENTER", "right": "RIGHT"}
_INDENT = "\u3000\u3000"  # two ideographic spaces: the first-line indent of Chinese prose


class _Pdf(FPDF):
    """FPDF with the page number centred in the footer."""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(BODY, "", 9)
        self.set_text_color(110, 110, 110)
        self.cell(0, 8, f"— {self.page_no()} —", align="C")
        self.set_text_color(0, 0, 0)


def _characters(doc: Document) -> str:
    """Every character the PDF will set: the document's texts, the footer, ASCII."""
    texts = [doc.title, *doc.subtitle, _INDENT, "— 0123456789", "".join(chr(c) for c in range(32, 127))]
    for block in doc.blocks:
        if isinstance(block, (Heading, Paragraph)):
            texts.append(block.text)
        elif isinstance(block, Table):
            texts += [block.caption, block.note, *block.headers, *(cell for row in block.rows for cell in row)]
        elif isinstance(block, Figure):
            texts.append(block.caption)
    return "".join(sorted(set("".join(texts))))


def _new_pdf(doc: Document, folder: Path) -> _Pdf:
    faces = fonts.find()
    characters = _characters(doc)
    # fpdf2 would only log a warning and leave the character out: an official document must not misprint a name.
    lacking = fonts.missing_characters(faces.body, characters)
    if lacking:
        shown = "、".join(f"{ch}（U+{ord(ch):04X}）" for ch in lacking[:10])
        raise ValueError(f"PDF 的字体缺少这些字符，无法正确显示：{shown}；请改用 DOCX，或改写这些字符。"
                         f" / The PDF font lacks: {lacking[:10]}")
    body = fonts.truetype_subset(faces.body, characters, folder)
    heading = fonts.truetype_subset(faces.heading, characters, folder)
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, margin=MARGIN_MM)
    # Two faces: the body's, and the heading's, which also sets table headers (rather than a
    # synthetic bold of the body face).
    pdf.add_font(BODY, "", str(body))
    pdf.add_font(HEADING, "", str(heading))
    pdf.set_title(doc.title)
    pdf.set_author(doc.subtitle[0] if doc.subtitle else "")
    pdf.set_creator("opsmon")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(periods.now())  # the calendar's clock: a pinned clock gives the same bytes
    return pdf


def _prose(pdf: FPDF, text: str, size: float = BODY_PT, align: str = "J") -> None:
    pdf.set_font(BODY, "", size)
    # CJK text has no spaces to break at: wrap at any character.
    pdf.multi_cell(0, LINE_MM * size / BODY_PT, text, align=align, wrapmode=WrapMode.CHAR,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _width(text: str) -> float:
    """Rough display width in ems: a CJK character is one, an ASCII character about half."""
    return sum(0.6 if ord(ch) < 0x2E80 else 1.0 for ch in text)


# A cell longer than this goes under the table as a numbered note: fpdf2 refuses a row taller than a page.
MAX_CELL = 300


def _table(pdf: FPDF, block: Table) -> None:
    notes: list[str] = []

    def fitted(text: str) -> str:
        if len(text) <= MAX_CELL:
            return text
        notes.append(text)
        return f"{text[:60]}…（见表后注{len(notes)}）"

    block = Table(block.headers, tuple(tuple(fitted(c) for c in row) for row in block.rows), block.caption,
                  block.column_align, "\n".join([block.note] * bool(block.note)
                                                 + [f"注{n}：{t}" for n, t in enumerate(notes, 1)]))
    if block.caption:
        pdf.ln(1.5)
        pdf.set_font(HEADING, "", 10.5)
        pdf.multi_cell(0, 6, block.caption, align="C", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    # Column widths follow the longest text in each column, header included (capped, so names wrap).
    widths = [max([_width(h)] + [_width(row[i]) for row in block.rows]) for i, h in enumerate(block.headers)]
    widths = [min(max(w, 3.0), 16.0) + 1.0 for w in widths]  # + padding
    pdf.set_font(BODY, "", 9.5)
    heading_style = PdfFontFace(family=HEADING, emphasis=TextEmphasis.NONE, size_pt=9.5, fill_color=(221, 231, 243))
    with pdf.table(col_widths=widths, text_align=tuple(_ALIGN[a] for a in block.alignments),
                   headings_style=heading_style, line_height=5.2, wrapmode=WrapMode.CHAR, padding=(0.8, 1.2),
                   width=pdf.epw, v_align="MIDDLE") as table:
        header = table.row()
        for text in block.headers:
            header.cell(text, align=Align.C)
        for values in block.rows:
            row = table.row()
            for text in values:
                row.cell(text)
    if block.note:
        pdf.ln(0.5)
        _prose(pdf, block.note, size=8.5, align="L")
    pdf.ln(2)


def _figure(pdf: FPDF, block: Figure) -> None:
    width = min(block.width_cm * 10, pdf.epw)
    from PIL import Image

    with Image.open(io.BytesIO(block.png)) as img:
        height = width * img.height / img.width
    if pdf.get_y() + height + 10 > pdf.page_break_trigger:  # keep the picture and its caption together
        pdf.add_page()
    pdf.image(io.BytesIO(block.png), x=(pdf.w - width) / 2, w=width)
    if block.caption:
        pdf.set_font(HEADING, "", 10)
        pdf.multi_cell(0, 6, block.caption, align="C", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def to_pdf(doc: Document) -> bytes:
    """*doc* as PDF bytes (A4), the CJK faces embedded as subsets; :class:`fonts.FontNotFound` without any."""
    with tempfile.TemporaryDirectory(prefix="opsmon-fonts-") as folder:
        return _render(doc, Path(folder))


def _render(doc: Document, folder: Path) -> bytes:
    pdf = _new_pdf(doc, folder)
    pdf.add_page()
    pdf.set_font(HEADING, "", 18)
    pdf.multi_cell(0, 10, doc.title, align="C", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    for line in doc.subtitle:
        _prose(pdf, line, size=10.5, align="C")
    pdf.ln(3)
    for block in doc.blocks:
        if isinstance(block, Heading):
            size = _HEADING_PT.get(block.level, BODY_PT)
            if pdf.get_y() + 3 * LINE_MM > pdf.page_break_trigger:  # no heading alone at a page's foot
                pdf.add_page()
            pdf.ln(2)
            pdf.set_font(HEADING, "", size)
            pdf.multi_cell(0, size * 0.6, block.text, align="L", wrapmode=WrapMode.CHAR,
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        elif isinstance(block, Paragraph):
            _prose(pdf, _INDENT + block.text)
            pdf.ln(1)
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, Figure):
            _figure(pdf, block)
        elif isinstance(block, PageBreak):
            pdf.add_page()
        else:
            raise TypeError(f"not a document block: {block!r}")
    return bytes(pdf.output())
