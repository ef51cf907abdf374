"""The 评价 page through its callbacks: who sees which units and sheets, the forms each user gets (exactly the
steps scoring.may allows), a score saved and a refused one changing nothing, evidence up and down (scoped), a
stage submitted through the confirmation dialog, the province's sample, its list and publication.

Callbacks are called as functions in a signed-in request context, on a writable demo of this module's own
with round 2026 opened on the default sheets.
"""

from __future__ import annotations

import base64
import io
import json
from contextvars import copy_context
from datetime import date

import docx
import openpyxl
import pytest
import sqlalchemy as sa
from conftest import find, make_user, signed_in, text
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

from opsmon.access import audit
from opsmon.access.users import get_user
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import evaluation
from opsmon.evaluation import results, rounds, sheets
from opsmon.sql import db
from tests.conftest import writable_demo

ZH = {"lang": "zh"}
YEAR = 2026
DUES = dict(self_due=date(2026, 7, 10), review_due=date(2026, 7, 20), check_due=date(2026, 7, 31))
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def open_round(engine) -> dict[str, str]:
    """Load the default sheets and open round 2026 (data month 2026-05) as the province's administrator; the
    units a scenario uses: a prefecture with two counties or more, two of its counties, a designated hospital,
    and the users acting for them (password ``test-password-1``)."""
    for kind in sheets.KINDS:
        if not (sheets.listing(engine)["kind"] == kind).any():  # (a test may have loaded one of its own)
            sheets.store(engine, sheets.default(kind), username="test")
    with engine.connect() as conn:
        root = conn.execute(sa.text("SELECT adcode FROM regions WHERE parent_adcode IS NULL")).scalar_one()
        counties = conn.execute(sa.text(
            "SELECT CAST(parent_adcode AS text), CAST(adcode AS text) FROM regions WHERE level = 'county' AND "
            "parent_adcode IN (SELECT adcode FROM regions WHERE level = 'prefecture') ORDER BY 1, 2")).all()
    province = make_user(engine, "eval-province", "admin", root)
    rounds.create(engine, get_user(engine, province), YEAR, data_period="2026-05", **DUES)
    by_parent: dict[str, list[str]] = {}
    for parent, code in counties:
        by_parent.setdefault(parent, []).append(code)
    prefecture, kids = max(by_parent.items(), key=lambda kv: len(kv[1]))
    units = results.units(engine, get_user(engine, province), YEAR)
    hospital = units.loc[units["kind"] == "hospital", "unit_code"].iloc[0]
    return {"province": province, "root": str(root), "prefecture": prefecture, "county": kids[0],
            "other_county": kids[1], "hospital": hospital,
            "prefecture_user": make_user(engine, f"eval-sup-{prefecture}", "supervisor", prefecture),
            "county_user": make_user(engine, f"eval-sup-{kids[0]}", "supervisor", kids[0]),
            "other_user": make_user(engine, f"eval-sup-{kids[1]}", "supervisor", kids[1]),
            "hospital_user": make_user(engine, f"eval-hosp-{hospital[-6:]}", "hospital", hospital)}


@pytest.fixture(scope="module")
def engine(databases, template_db, tmp_path_factory):
    eng = db.create_engine(writable_demo(databases, template_db, tmp_path_factory, "evaluation-page", seed=9),
                           poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def app(engine):
    return create_app(engine)


@pytest.fixture(scope="module")
def who(engine) -> dict[str, str]:
    return open_round(engine)


def clicked(prop_id: str, fn, *args):
    """Run callback *fn* as if the input *prop_id* ('id.prop', or a pattern id's JSON) had fired."""
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return fn(*args)
    return copy_context().run(run)



def ids_of(component, kind: str) -> list[dict]:
    """The pattern ids ``{"type": "evaluation-<kind>", …}`` inside a component tree."""
    out = []
    if isinstance(component, (list, tuple)):
        for c in component:
            out += ids_of(c, kind)
        return out
    if component is None or isinstance(component, (str, int, float)):
        return out
    cid = getattr(component, "id", None)
    if isinstance(cid, dict) and cid.get("type") == f"evaluation-{kind}":
        out.append(cid)
    return out + ids_of(getattr(component, "children", None), kind)


def events(engine, unit: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT stage, action, item_code, CAST(score AS float8), username FROM evaluation_events "
            "WHERE year = :y AND unit_code = :c ORDER BY event_id"), {"y": YEAR, "c": unit})]


def save(stage: str, unit: str, item: str, score, *, note=None, reason=None, items=()):
    """The Save button of *item*'s row, as the page sends it (every row's inputs: only *item*'s filled)."""
    codes = list(items) or [item]
    score_ids = [{"type": "evaluation-score", "item": c} for c in codes]
    scores = [score if c == item else None for c in codes]
    note_ids = [{"type": "evaluation-note", "item": c} for c in codes]
    reason_ids = [{"type": "evaluation-reason", "item": c} for c in codes]
    status_ids = [{"type": "evaluation-status", "item": c} for c in codes]
    prop = f'{{"item":"{item}","type":"evaluation-save"}}.n_clicks'
    return clicked(prop, evaluation.save, [1] * len(codes), score_ids, scores, note_ids,
                   [note if c == item else "" for c in codes], reason_ids,
                   [reason if c == item else "" for c in codes], status_ids, stage, unit, str(YEAR), 0, ZH)


def score_all(engine, unit: str, stage: str) -> None:
    """Every item scored at *stage* through the page (the proposed score where the data proposes one)."""
    _u, items = results.sheet(engine, get_user(engine, "eval-province"), YEAR, unit)
    for row in items.to_dict("records"):
        value = row["proposed"] if row["proposed"] is not None and row["proposed"] == row["proposed"] \
            else row["max_score"]
        alert, *_ = save(stage, unit, row["item_code"], value, reason="复核确认" if stage == "review" else None)
        assert alert.color == "success", alert.children


def submit(unit: str, stage: str):
    """The stage's Submit button, then the dialog's Confirm: (ask's answer, confirm's)."""
    prop = f'{{"stage":"{stage}","type":"evaluation-submit"}}.n_clicks'
    asked = clicked(prop, evaluation.ask, [1], None, unit, str(YEAR), ZH)
    assert asked[0] is True, asked
    done = clicked("evaluation-confirm.n_clicks", evaluation.confirm, 1, asked[2], 0, ZH)
    return asked, done


# ----------------------------------------------------------------------------------------- who sees what
def test_the_page_is_in_every_roles_navigation_and_opens_on_the_newest_round(app, engine, who):
    assert evaluation.PAGE.permission is None and evaluation.PAGE.path == "/evaluation"
    with signed_in(app, engine, who["province"]):
        page = evaluation.layout(lang="zh")
    assert find(page, "evaluation-round").value == str(YEAR)
    facts = text(find(page, "evaluation-round-facts"))
    assert "2026年5月" in facts and "2026-07-10" in facts and "2026-07-20" in facts and "2026-07-31" in facts
    grid = find(page, "evaluation-grid").rowData
    assert len(grid) == len(results.units(engine, get_user(engine, who["province"]), YEAR))
    assert find(page, "evaluation-count-not_started").children == f"{len(grid):,}"
    assert find(page, "evaluation-draw") is not None  # the province's panel
    fig = find(page, "evaluation-map").figure
    assert len(fig.data) >= 1 and find(page, "evaluation-pick") is not None


def test_a_county_sees_only_itself_and_not_another_countys_sheet(app, engine, who):
    with signed_in(app, engine, who["other_user"]):
        page = evaluation.layout(lang="zh", round=str(YEAR))
        assert [r["unit_code"] for r in find(page, "evaluation-grid").rowData] == [who["other_county"]]
        assert find(page, "evaluation-admin").children is None  # no province panel
        other = evaluation.layout(lang="zh", round=str(YEAR), unit=who["county"])
        assert find(other, "evaluation-not-found") is not None and find(other, "evaluation-sheet-head") is None
        own = evaluation.layout(lang="zh", round=str(YEAR), unit=who["other_county"])
        assert find(own, "evaluation-sheet-head") is not None
    with signed_in(app, engine, who["hospital_user"]):
        page = evaluation.layout(lang="zh")
        assert [r["unit_code"] for r in find(page, "evaluation-grid").rowData] == [who["hospital"]]


def test_only_the_steps_the_user_may_take_get_forms(app, engine, who):
    with signed_in(app, engine, who["county_user"]):
        own = evaluation.sheet_view(YEAR, who["county"])
        assert len(ids_of(own, "save")) == 11 and len(ids_of(own, "upload")) == 11
        assert ids_of(own, "submit") == [{"type": "evaluation-submit", "stage": "self"}]
    with signed_in(app, engine, who["prefecture_user"]):
        county = evaluation.sheet_view(YEAR, who["county"])  # not submitted yet: nothing to review
        assert ids_of(county, "save") == [] and ids_of(county, "submit") == []
        assert "尚未提交自评" in text(find(county, "evaluation-stage-review"))
    with signed_in(app, engine, make_user(engine, "eval-leader", "leader", who["root"])):
        looked = evaluation.sheet_view(YEAR, who["county"])
        assert ids_of(looked, "save") == [] and find(looked, "evaluation-sheet-head") is not None


# ----------------------------------------------------------------------------------------- steps
def test_a_refused_score_changes_nothing_and_says_why(app, engine, who):
    unit = who["other_county"]
    with signed_in(app, engine, who["other_user"]):
        before = events(engine, unit)
        alert, statuses, totals, refresh = save("self", unit, "C01", 999)
        assert alert.color == "danger" and "超出范围" in alert.children
        assert totals is evaluation.no_update and refresh is evaluation.no_update
        # A score for another county's sheet, whatever the browser sends: refused by the library.
        alert, *_ = save("self", who["county"], "C01", 1)
        assert alert.color == "danger" and "没有找到" in alert.children
        alert, *_ = save("self", unit, "C01", None)
        assert alert.color == "danger" and "C01" in alert.children
    assert events(engine, unit) == before


def test_self_assessment_with_evidence_then_submit(app, engine, who):
    unit = who["county"]
    with signed_in(app, engine, who["county_user"]):
        alert, statuses, totals, refresh = save("self", unit, "C01", 2, note="已成立", items=["C01", "C02"])
        assert alert.color == "success" and refresh == 1
        assert "已保存" in text(statuses[0]) and statuses[1] is evaluation.no_update
        assert find(totals, "evaluation-total-self") is not None
        # Evidence: a PDF to item C01, listed and downloadable.
        contents = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
        ups = [{"type": "evaluation-upload", "item": c} for c in ("C01", "C02")]
        files = [{"type": "evaluation-files", "item": c} for c in ("C01", "C02")]
        alert, listed = clicked('{"item":"C01","type":"evaluation-upload"}.contents', evaluation.upload,
                                [contents, None], ["会议纪要.pdf", None], ups, files, unit, str(YEAR), ZH)
        assert alert.color == "success", alert.children
        assert "会议纪要.pdf" in text(listed[0]) and listed[1] is evaluation.no_update
        evidence_id = ids_of(listed[0], "evidence")[0]["id"]
        sent = clicked(f'{{"id":{evidence_id},"type":"evaluation-evidence"}}.n_clicks', evaluation.send_evidence,
                       [1], ZH)
        assert base64.b64decode(sent["content"]) == PDF and sent["filename"] == "会议纪要.pdf"
        # A text file posing as a PDF: refused, nothing stored.
        fake = "data:application/pdf;base64," + base64.b64encode(b"not a pdf").decode()
        alert, listed = clicked('{"item":"C02","type":"evaluation-upload"}.contents', evaluation.upload,
                                [None, fake], [None, "x.pdf"], ups, files, unit, str(YEAR), ZH)
        assert alert.color == "danger" and listed == [evaluation.no_update] * 2
        score_all(engine, unit, "self")
        (is_open, question, pending, _msg), (done, _admin, closed, refresh) = submit(unit, "self")
        assert "提交后不能再修改" in question and pending == {"action": "submit", "stage": "self", "unit": unit,
                                                                "year": YEAR}
        assert done.color == "success" and closed is False and refresh == 1
        after = evaluation.sheet_view(YEAR, unit)
        assert ids_of(after, "save") == [] and find(after, "evaluation-unit-state").children == "已提交"
    # Another county may not download it (the library's scoped read): nothing is sent.
    with signed_in(app, engine, who["other_user"]):
        with pytest.raises(PreventUpdate):
            clicked(f'{{"id":{evidence_id},"type":"evaluation-evidence"}}.n_clicks', evaluation.send_evidence,
                    [1], ZH)
    assert events(engine, unit)[-1][:2] == ("self", "submit")
    entries = audit.search(engine, action="evaluation.")
    assert {"evaluation.score", "evaluation.evidence", "evaluation.submit"} <= set(
        entries.loc[entries["username"] == who["county_user"], "action"])


def test_review_sample_check_and_publish(app, engine, who):
    unit = who["county"]  # submitted by the test above
    assert any(e[:2] == ("self", "submit") for e in events(engine, unit)), \
        "needs the self-assessment submitted by the test before"
    with signed_in(app, engine, who["prefecture_user"]):
        alert, *_ = save("review", unit, "C01", 1)  # an adjustment without a reason: refused
        assert alert.color == "danger" and "理由" in alert.children
        alert, *_ = save("review", unit, "C01", 1, reason="会议纪要不全")
        assert alert.color == "success"
        _asked, (done, *_rest) = submit(unit, "review")
        assert done.color == "success"
    with signed_in(app, engine, who["province"]):
        asked = clicked("evaluation-draw.n_clicks", evaluation.ask_admin, 1, None, str(YEAR), 0.3, 7, ZH)
        assert asked[0] is True and asked[2] == {"action": "sample", "year": YEAR, "rate": 0.3, "seed": 7}
        _msg, admin, _closed, _refresh = clicked("evaluation-confirm.n_clicks", evaluation.confirm, 1, asked[2], 0,
                                                 ZH)
        assert admin.color == "success", admin.children
        sent = evaluation.download_sample(1, str(YEAR), ZH)
        book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(sent["content"])))
        assert "抽查名单" in book.active["A1"].value
        # Drawn once only: a second draw is refused with the library's message.
        _msg, admin, _closed, _refresh = clicked("evaluation-confirm.n_clicks", evaluation.confirm, 1, asked[2], 0,
                                                 ZH)
        assert admin.color == "danger" and "不能重抽" in admin.children
        asked = clicked("evaluation-publish.n_clicks", evaluation.ask_admin, None, 1, str(YEAR), None, None, ZH)
        _msg, admin, _closed, _refresh = clicked("evaluation-confirm.n_clicks", evaluation.confirm, 1, asked[2], 0,
                                                 ZH)
        assert admin.color == "success"
    assert rounds.get_round(engine, YEAR).published
    actions = set(audit.search(engine, action="evaluation.")["action"])
    assert {"evaluation.sample", "evaluation.publish"} <= actions
    # Published: another county now sees every unit, and the first county's sheet, read-only.
    with signed_in(app, engine, who["other_user"]):
        page = evaluation.layout(lang="zh", round=str(YEAR), unit=unit)
        assert find(page, "evaluation-sheet-head") is not None and ids_of(page, "save") == []
        assert len(find(page, "evaluation-grid").rowData) > 1


def report_click(unit: str, fmt: str) -> str:
    return json.dumps({"fmt": fmt, "type": "evaluation-report", "unit": unit}, separators=(",", ":")) + ".n_clicks"


def test_the_reports_download_as_the_user_sees_them_and_are_audited(app, engine, who):
    unit = who["county"]
    with signed_in(app, engine, who["county_user"]):
        sent, message = clicked(report_click(unit, "docx"), evaluation.download_report, [1], str(YEAR), ZH)
    assert message is None
    document = docx.Document(io.BytesIO(base64.b64decode(sent["content"])))
    assert document.paragraphs[0].text.endswith(f"{YEAR}年公立医疗机构经济管理年活动自评报告")
    assert sent["filename"].endswith(f"{YEAR}年自评报告.docx")
    leader = make_user(engine, "eval-report-leader", "leader", who["root"])
    with signed_in(app, engine, leader):
        sent, message = clicked(report_click("", "pdf"), evaluation.download_report, [1], str(YEAR), ZH)
    assert message is None and base64.b64decode(sent["content"])[:5] == b"%PDF-"
    assert sent["filename"] == f"{YEAR}年公立医疗机构经济管理年活动评价报告.pdf"
    exports = audit.search(engine, action="export")
    reports = [d for d in exports["details"] if "evaluation_report" in str(d)]
    assert len(reports) == 2
