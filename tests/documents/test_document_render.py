"""The renderers: the PDF embeds its CJK font and reads back in Chinese; the model checks its tables."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from docx import Document as read_docx
from pypdf import PdfReader

from opsmon.documents import docx_render, fonts, pdf_render
from opsmon.documents.model import Document, Figure, Heading, PageBreak, Paragraph, Table
from tests.documents.conftest import ARTIFACTS

# A 1×1 white PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8ffff"
                    "3f0005fe02fea7d605a10000000049454e44ae426082")


def pdf_text(content: bytes) -> str:
    """Every page's text without whitespace (pypdf spaces out CID-keyed CJK glyphs)."""
    return "".join("".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def fonts_of(content: bytes) -> list[dict]:
    """Each font resource of each page: its base name and the font file streams it embeds."""
    found = []
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            found.append({"name": str(font["/BaseFont"]),
                          "files": [k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor]})
    return found


def test_the_pdf_reads_back_in_chinese(bulletin_pdf, closed_month):
    year, month = (int(x) for x in closed_month.split("-"))
    text = pdf_text(bulletin_pdf)
    assert f"吉林省公立医院经济运行分析通报（{year}年{month}月）" in text
    for words in ("一、填报情况", "二、主要指标", "三、地区比较", "四、风险监测", "长春市", "延边朝鲜族自治州"):
        assert words in text


def test_the_pdf_embeds_its_fonts_as_subsets(bulletin_pdf):
    found = fonts_of(bulletin_pdf)
    assert found
    for font in found:
        assert font["files"], f"{font['name']} is not embedded"
        assert font["name"][1:7].isupper() and font["name"][7] == "+", f"{font['name']} is not a subset"
    assert len(bulletin_pdf) < 3_000_000  # subsets, not whole CJK fonts (tens of MB)


def test_first_page_screenshot(bulletin_pdf):
    """tests/artifacts/bulletin.png: the first page, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = pdfium.PdfDocument(bulletin_pdf)
    try:
        image = pdf[0].render(scale=1.5).to_pil()
        text = pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    image.save(ARTIFACTS / "bulletin.png")
    assert image.width > 800
    assert "填报情况" in text  # pdfium reads it too
    # Not a blank page: enough dark pixels for a title, prose and a table.
    histogram = image.convert("L").histogram()
    assert sum(histogram[:128]) > 0.01 * image.width * image.height


def sample() -> Document:
    return Document("测试文档（2026年5月）", ("某某卫生健康委员会", "2026年6月23日"), (
        Heading("一、标题"), Paragraph("正文段落，含数字 49.1% 和 1.23亿元。"),
        Table(("地区", "数值"), (("长春市", "49.1%"), ("吉林市", "—")), caption="表1 示例"),
        Figure(PNG, "图1 示例", 2.0), PageBreak(), Heading("（一）小节", 2), Paragraph("第二页。")))


def test_docx_keeps_headings_tables_and_pictures_editable():
    doc = read_docx(io.BytesIO(docx_render.to_docx(sample())))
    assert [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")] == ["一、标题", "（一）小节"]
    assert [[c.text for c in row.cells] for row in doc.tables[0].rows] == [["地区", "数值"], ["长春市", "49.1%"],
                                                                        ["吉林市", "—"]]
    assert len(doc.inline_shapes) == 1


def test_pdf_of_the_sample_has_two_pages():
    content = pdf_render.to_pdf(sample())
    assert len(PdfReader(io.BytesIO(content)).pages) == 2
    assert "正文段落" in pdf_text(content)


def test_a_table_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="do not have 2 cells"):
        Table(("a", "b"), (("1",),))
    assert Table(("a", "b", "c"), ()).alignments == ("left", "right", "right")


def test_no_cjk_font_names_the_debian_package(monkeypatch):
    fonts.find.cache_clear()
    monkeypatch.setattr(fonts, "_fc_list", lambda: [])
    monkeypatch.setattr(fonts, "KNOWN_FILES", ())
    try:
        with pytest.raises(fonts.FontNotFound, match="fonts-noto-cjk"):
            fonts.find()
    finally:
        fonts.find.cache_clear()


def test_the_cjk_faces_are_found():
    faces = fonts.find()
    assert faces.body.path.is_file() and faces.heading.path.is_file()
    assert faces.heading.bold


def test_documents_never_import_the_dashboard():
    """The architecture's direction: documents read the library, never the dashboard (nor Dash)."""
    import ast
    from pathlib import Path

    import opsmon.documents

    found = []
    for path in Path(opsmon.documents.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}:{node.lineno} {n}" for n in names
                      if n == "dash" or n.startswith(("dash.", "opsmon.dashboard", "dash_"))]
    assert found == []
