"""Documents (通报, reports) built from the query API as a format-free model, rendered to DOCX and PDF.

:mod:`~opsmon.documents.model` is the model (headings, paragraphs, tables, figures);
:mod:`~opsmon.documents.docx_render` and :mod:`~opsmon.documents.pdf_render` turn it into
editable DOCX and PDF with the CJK font embedded (:mod:`~opsmon.documents.fonts` finds it);
:mod:`~opsmon.documents.charts` draws figures with matplotlib; :mod:`~opsmon.documents.prose`
formats numbers and sentences; :mod:`~opsmon.documents.bulletin` builds the monthly
经济运行分析通报. Like a page, a document reads only through the indicator and disposal APIs
with the caller's scope, so its numbers equal the page's and the export's by construction.
This package never imports :mod:`opsmon.dashboard` (nor Dash).
"""
