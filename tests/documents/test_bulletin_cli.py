"""``opsmon bulletin``: the 通报 written to a file as DOCX or PDF; a refused request writes nothing."""

from __future__ import annotations

import io

import docx
from click.testing import CliRunner
from pypdf import PdfReader

from opsmon.cli import cli
from tests.documents.conftest import PREFECTURE


def test_bulletin_writes_a_pdf_and_a_docx(demo_url, closed_month, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    year, month = closed_month.split("-")
    title = f"长春市公立医院经济运行分析通报（{int(year)}年{int(month)}月）"
    pdf = tmp_path / "b.pdf"
    done = CliRunner().invoke(cli, ["bulletin", "--period", closed_month, "--region", PREFECTURE,
                                    "--format", "pdf", "-o", str(pdf)])
    assert done.exit_code == 0, done.output
    assert title in PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text().replace("\n", "")
    out = tmp_path / "b.docx"
    done = CliRunner().invoke(cli, ["bulletin", "--period", closed_month, "--region", PREFECTURE, "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert docx.Document(str(out)).paragraphs[0].text == title


def test_bulletin_refuses_a_month_not_closed_and_writes_nothing(demo_url, closed_month, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    year, month = map(int, closed_month.split("-"))
    later = f"{year + (month == 12)}-{month % 12 + 1:02d}"
    out = tmp_path / "b.docx"
    refused = CliRunner().invoke(cli, ["bulletin", "--period", later, "-o", str(out)])
    assert refused.exit_code == 1
    assert "尚未" in refused.output or "not" in refused.output
    assert not out.exists()
