"""The evaluation's documents: the 全省评价报告 and a unit's 自评报告, as DOCX and PDF, with the scores the
units entered (summed here by hand), within the reader's view."""

from __future__ import annotations

import io

import docx
import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from opsmon.cli import cli
from opsmon.documents import evaluation_report as report
from opsmon.evaluation import results, rounds, scoring
from tests.evaluation.conftest import DUES, province, regions_of, user

YEAR = 2025  # a round of its own (test_rounds works on 2026)


def tables(content: bytes) -> list[list[list[str]]]:
    document = docx.Document(io.BytesIO(content))
    return [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]


def text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


@pytest.fixture(scope="module")
def finished(evaluation_engine, round_2026):
    """Round 2025: two counties of a prefecture self-assess (one reviewed with an adjustment), the sample is
    drawn so that the first county is in it, and the province checks it with two items lowered by one."""
    e = evaluation_engine
    prov = province(e)
    rounds.create(e, prov, YEAR, data_period="2026-05", **DUES)
    prefecture, counties = next(iter(regions_of(e).items()))
    pref = user(e, "doc-pref", "supervisor", prefecture)
    entered = {}
    for code in [*counties[:2], prefecture]:
        who = user(e, f"doc-{code}", "supervisor", code)
        _, items = results.sheet(e, who, YEAR, code)
        entered[code] = {}
        for it in items.itertuples():
            value = it.proposed if it.proposed is not None and it.proposed == it.proposed else it.max_score
            scoring.score(e, who, YEAR, code, it.item_code, value, note="已完成")
            entered[code][it.item_code] = value
        scoring.submit(e, who, YEAR, code)
    first, second = counties[:2]
    scoring.score(e, pref, YEAR, second, "C01", 6, stage="review", reason="方案未明确时间节点")
    scoring.submit(e, pref, YEAR, second, stage="review")
    units = results.units(e, prov, YEAR)
    from tests.evaluation.test_rounds import _draw

    seed = next(s for s in range(1000) if first in _draw(units, 0.2, s))
    rounds.draw_sample(e, prov, YEAR, rate=0.2, seed=seed)
    checked = dict(entered[first])
    lowered = [k for k, v in checked.items() if v >= 1][:2]
    for item in lowered:
        checked[item] -= 1
    for item, value in checked.items():
        scoring.score(e, prov, YEAR, first, item, value, stage="check", note="现场核查")
    scoring.submit(e, prov, YEAR, first, stage="check")
    names = dict(zip(units["unit_code"], units["name"]))
    return {"first": first, "second": second, "entered": entered, "checked": checked, "lowered": lowered,
            "names": names, "seed": seed, "prefecture": prefecture, "sampled": int(units.shape[0])}


def test_the_provincial_report_carries_each_units_final_score(evaluation_engine, finished):
    content = report.render(report.provincial(evaluation_engine, province(evaluation_engine), YEAR), "docx")
    scores = next(t for t in tables(content) if t[0][:2] == ["单位", "层级"])  # 各卫生健康委得分
    rows = {r[0]: r for r in scores}
    first, second = finished["names"][finished["first"]], finished["names"][finished["second"]]
    # The checked county: final = the check's sum; the reviewed one: its self sum with C01 replaced by 6.
    assert float(rows[first][6]) == sum(finished["checked"].values())
    assert float(rows[first][3]) == sum(finished["entered"][finished["first"]].values())
    entered = finished["entered"][finished["second"]]
    assert float(rows[second][6]) == sum(entered.values()) - entered["C01"] + 6
    assert f"随机种子{finished['seed']}" in text(content)
    assert f"涉及评分项目{len(finished['lowered'])}项" in text(content)
    assert "拟通报表扬" in text(content)
    pictures = [r for r in docx.Document(io.BytesIO(content)).part.rels.values() if "image" in r.reltype]
    assert len(pictures) == 2  # the prefectures' map and their ranking


def test_the_report_as_a_county_sees_it_holds_only_that_county(evaluation_engine, finished):
    county = user(evaluation_engine, f"doc-{finished['second']}", "supervisor", finished["second"])
    content = report.render(report.provincial(evaluation_engine, county, YEAR), "docx")
    names = {r[0] for t in tables(content) for r in t}
    assert finished["names"][finished["second"]] in names  # (names of prefectures and counties are unique here)
    assert finished["names"][finished["first"]] not in names


def test_the_self_assessment_report_is_a_skeleton_with_the_units_scores(evaluation_engine, finished):
    code = finished["first"]
    who = user(evaluation_engine, f"doc-{code}", "supervisor", code)
    content = report.render(report.self_assessment(evaluation_engine, who, YEAR, code), "docx")
    body = text(content)
    for heading in ("一、基本情况", "二、工作开展情况", "三、自评得分", "四、存在的问题", "五、下一步工作计划", "六、典型案例"):
        assert heading in body
    assert "【请填写" in body and "【主要做法】" in body
    assert "建立经济运行风险清单医院占比为" in body  # an indicator-backed item names its figure
    score_table = next(t for t in tables(content) if t[0][0] == "评价项目")
    assert float(score_table[-1][3]) == sum(finished["entered"][code].values())
    with pytest.raises(rounds.NotFound):
        report.self_assessment(evaluation_engine, who, YEAR, finished["second"])


def test_the_pdf_reads_back_in_chinese(evaluation_engine, finished):
    content = report.render(report.provincial(evaluation_engine, province(evaluation_engine), YEAR), "pdf")
    reader = PdfReader(io.BytesIO(content))
    first_page = reader.pages[0].extract_text()
    assert f"{YEAR}年公立医疗机构经济管理年活动评价报告" in first_page.replace("\n", "")
    assert "总体情况" in first_page


def test_cli_writes_the_reports_and_refuses_a_unit_out_of_view(evaluation_engine, finished, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", evaluation_engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    out = tmp_path / "report.docx"
    done = runner.invoke(cli, ["evaluation", "report", "--round", str(YEAR), "--format", "docx", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert docx.Document(str(out)).paragraphs  # a real DOCX
    refused = runner.invoke(cli, ["evaluation", "report", "--round", str(YEAR), "--unit", finished["first"],
                                  "--as", f"doc-{finished['second']}", "-o", str(tmp_path / "x.docx")])
    assert refused.exit_code == 1
    assert "不在您的权限范围内" in refused.output
    assert not (tmp_path / "x.docx").exists()
