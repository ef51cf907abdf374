"""A :class:`~opsmon.documents.model.Document` as an editable DOCX (python-docx).

Real headings (Word's Heading 1/2 styles, so the navigation pane and a table of
contents work), paragraphs, tables (Table Grid, header row repeated on every page)
and inline pictures with captions — nothing is an image of text. A4 portrait.

Word picks the font of CJK characters from ``w:rFonts/@w:eastAsia``, which
python-docx's ``font.name`` does not set, and the default template's styles name
theme fonts (``w:asciiTheme``…) that override explicit names: both are fixed in the
styles themselves, so text typed later in Word gets the same fonts. Body: 宋体;
headings, title and table headers: 黑体 (the fonts of Chinese official documents, on
every Chinese Windows; other systems substitute their own CJK fonts).
"""

from __future__ import annotations

import io

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from opsmon.documents.model import Document, Figure, Heading, PageBreak, Paragraph, Table

BODY_FONT = "宋体"
HEADING_FONT = "黑体"
LATIN_FONT = "Times New Roman"
BODY_PT = 12
_ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}
_HEADING_PT = {1: 15, 2: 13, 3: 12}
_BLACK = RGBColor(0, 0, 0)


def _set_fonts(element, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Name the fonts of a style's or run's ``w:rPr`` explicitly, for CJK (eastAsia) and Latin text."""
    rpr = element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)  # a theme font would override the names below
    for attr, name in (("w:ascii", latin), ("w:hAnsi", latin), ("w:eastAsia", east_asia), ("w:cs", latin)):
        rfonts.set(qn(attr), name)


def _style_fonts(doc) -> None:
    """Normal, Title, Subtitle, Heading 1–3 and Caption with Chinese fonts, black, sizes of a 通报."""
    normal = doc.styles["Normal"]
    _set_fonts(normal.element, BODY_FONT)
    normal.font.size = Pt(BODY_PT)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.3
    for name, font, size, bold in (("Title", HEADING_FONT, 20, False), ("Subtitle", BODY_FONT, 12, False),
                                   ("Caption", HEADING_FONT, 10.5, False),
                                   *((f"Heading {lv}", HEADING_FONT, pt, False) for lv, pt in _HEADING_PT.items())):
        style = doc.styles[name]
        _set_fonts(style.element, font)
        style.font.size = Pt(size)
        style.font.bold = bold
        style.font.italic = False
        style.font.color.rgb = _BLACK
    title = doc.styles["Title"]
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    # The default Title has a bottom border and Subtitle is italic blue: not in an official document.
    ppr = title.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)
    doc.styles["Subtitle"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.styles["Caption"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for lv in _HEADING_PT:
        doc.styles[f"Heading {lv}"].paragraph_format.space_before = Pt(12 if lv == 1 else 8)
        doc.styles[f"Heading {lv}"].paragraph_format.space_after = Pt(6)


def _a4(doc) -> None:
    for section in doc.sections:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.top_margin = section.bottom_margin = Cm(2.54)
        section.left_margin = section.right_margin = Cm(2.5)


def _repeat_header(row) -> None:
    """Mark a table row as a header row: Word repeats it at the top of every page."""
    trpr = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    trpr.append(flag)


def _table(doc, block: Table) -> None:
    if block.caption:
        doc.add_paragraph(block.caption, style="Caption")
    table = doc.add_table(rows=1, cols=len(block.headers))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    aligns = block.alignments
    for cell, text in zip(table.rows[0].cells, block.headers, strict=True):
        paragraph = cell.paragraphs[0]
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(text)
        run.bold = True
        _set_fonts(run._element, HEADING_FONT)
        run.font.size = Pt(10.5)
    _repeat_header(table.rows[0])
    for values in block.rows:
        cells = table.add_row().cells
        for cell, text, align in zip(cells, values, aligns, strict=True):
            paragraph = cell.paragraphs[0]
            paragraph.alignment = _ALIGN[align]
            paragraph.paragraph_format.first_line_indent = None
            run = paragraph.add_run(text)
            run.font.size = Pt(10.5)
    if block.note:
        note = doc.add_paragraph()
        note.add_run(block.note).font.size = Pt(9)


def _figure(doc, block: Figure) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.first_line_indent = None
    paragraph.add_run().add_picture(io.BytesIO(block.png), width=Cm(block.width_cm))
    if block.caption:
        doc.add_paragraph(block.caption, style="Caption")


def to_docx(doc: Document) -> bytes:
    """*doc* as DOCX bytes (A4; 宋体 body, 黑体 headings; tables and pictures editable in Word/WPS)."""
    out = new_docx()
    _style_fonts(out)
    _a4(out)
    out.core_properties.title = doc.title
    out.core_properties.author = doc.subtitle[0] if doc.subtitle else ""
    out.add_paragraph(doc.title, style="Title")
    for line in doc.subtitle:
        out.add_paragraph(line, style="Subtitle")
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.add_heading(block.text, level=min(max(block.level, 1), 3))
        elif isinstance(block, Paragraph):
            paragraph = out.add_paragraph(block.text)
            paragraph.paragraph_format.first_line_indent = Pt(2 * BODY_PT)  # two characters, as Chinese prose has
        elif isinstance(block, Table):
            _table(out, block)
        elif isinstance(block, Figure):
            _figure(out, block)
        elif isinstance(block, PageBreak):
            out.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        else:
            raise TypeError(f"not a document block: {block!r}")
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()
