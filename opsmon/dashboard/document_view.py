"""A :class:`~opsmon.documents.model.Document` as Dash components: the on-screen twin of the DOCX and PDF renderers.

A white A4-wide sheet (``opsmon-doc``, styled in ``assets/opsmon.css``: a serif CJK body, black text, tables
ruled as printed) holding the title and subtitle lines, the headings, paragraphs (first line indented), tables
with their caption above and note below, and figures as inline PNGs (``data:image/png;base64,…``) with their
captions. A page break is a thin rule. Every text is the document's own: nothing is formatted or translated
here (content, not UI labels).
"""

from __future__ import annotations

import base64
from typing import Any

from dash import html

from opsmon.documents.model import Document, Figure, Heading, PageBreak, Paragraph, Table


def png_src(png: bytes) -> str:
    """*png* as an ``<img src>`` data URL (the page's CSP allows ``data:`` images)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _heading(block: Heading) -> Any:
    tag = html.H2 if block.level <= 1 else html.H3
    return tag(block.text, className=f"opsmon-doc-h{min(max(block.level, 1), 3)}")


def _table(block: Table) -> html.Div:
    align = [f"opsmon-doc-{a}" for a in block.alignments]
    head = html.Thead(html.Tr([html.Th(h, className=a) for h, a in zip(block.headers, align)]))
    body = html.Tbody([html.Tr([html.Td(cell, className=a) for cell, a in zip(row, align)]) for row in block.rows])
    return html.Div([
        html.Div(block.caption, className="opsmon-doc-caption") if block.caption else None,
        html.Div(html.Table([head, body], className="opsmon-doc-table"), className="opsmon-doc-table-wrap"),
        html.Div(block.note, className="opsmon-doc-note") if block.note else None,
    ], className="opsmon-doc-table-block")


def _figure(block: Figure) -> html.Figure:
    return html.Figure([
        # The document's width (cm) on a 21 cm sheet, as a share of the sheet's text width (16 cm).
        html.Img(src=png_src(block.png), alt=block.caption, className="opsmon-doc-img",
                 style={"width": f"{min(block.width_cm / 16 * 100, 100):.0f}%"}),
        html.Figcaption(block.caption, className="opsmon-doc-caption") if block.caption else None,
    ], className="opsmon-doc-figure")


def block_view(block: Any) -> Any:
    """One block as components (``ValueError`` for something that is not a block)."""
    if isinstance(block, Heading):
        return _heading(block)
    if isinstance(block, Paragraph):
        return html.P(block.text, className="opsmon-doc-p")
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    if isinstance(block, PageBreak):
        return html.Hr(className="opsmon-doc-pagebreak")
    raise ValueError(f"not a document block: {block!r}")


def document_view(doc: Document, component_id: str | None = None) -> html.Article:
    """*doc* as a printed-looking sheet."""
    kwargs = {"id": component_id} if component_id else {}
    return html.Article([
        html.H1(doc.title, className="opsmon-doc-title"),
        html.Div([html.Div(line) for line in doc.subtitle], className="opsmon-doc-subtitle") if doc.subtitle else None,
        *(block_view(b) for b in doc.blocks),
    ], className="opsmon-doc", lang="zh-CN", **kwargs)
