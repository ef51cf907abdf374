"""评价 Evaluation: the yearly round of 公立医疗机构经济管理年活动 — 自评、复核、抽查与评价 (:mod:`opsmon.evaluation`).

URL: ``/evaluation?round=2026&unit=220102&lang=en``.

The round (default: the newest) with its data month and deadlines; progress of the units in the
user's view (not started … checked, sampled) as cards; their score rates on the map; the units table,
whose row opens that unit's score sheet (``unit``): item by item the data's value and the score it
proposes, the self, review and check scores with their notes and reasons, the final score, the
evidence files (downloads through the library's scoped read) — and the forms of exactly the steps the
signed-in user may take now (:func:`data.evaluation_steps`, i.e. ``scoring.may``): an item's score,
an evidence file, the stage's submission (confirmed in a dialog). The province's administrator also
draws the spot-check sample, downloads its list and publishes the results.

Open to every role: units score themselves (supervisors, hospital users), the level above reviews,
the province checks; leaders and analysts look. Every read and step goes through :mod:`data` as the
signed-in user — the library decides what they see and may do; a refused step changes nothing and
its message is shown.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from types import SimpleNamespace
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from opsmon.dashboard import auth, context, data, url_query
from opsmon.dashboard import components as c
from opsmon.dashboard.figures import GRAPH_CONFIG, empty_figure, region_map
from opsmon.dashboard.format import indicator_value, percent, period_label, timestamp
from opsmon.dashboard.outlines import outline
from opsmon.dashboard.page import Control, Page
from opsmon.dashboard.strings import current_language, t
from opsmon.disposal.attachments import EXTENSIONS, MAX_BYTES
from opsmon.evaluation.rounds import STAGES, EvaluationError, sample_xlsx
from opsmon.evaluation.results import STATES
from opsmon.indicators import catalogue

_UNIT = re.compile(r"^[0-9A-Z]{6,18}$")
# The pill colour of each state (opsmon.css: .opsmon-pill-eval_*).
PILL = {s: f"eval_{s}" for s in STATES}
ACTIONS = ("submit", "sample", "publish")  # the steps that go through the confirmation dialog
MAP_SCALE = {"colorscale": "RdYlGn", "zmin": 0.5, "zmax": 1.0}
RATE = SimpleNamespace(unit="%", decimals=1, direction="up")  # the map's value: a score rate


def unit_code(value: Any) -> str | None:
    """*value* (from the URL or the browser) as a unit code (a region adcode or a hospital code), else None."""
    text = str(value).strip().upper() if value is not None else ""
    return text if _UNIT.match(text) else None


def round_years() -> list[str]:
    """The rounds' years, newest first (as text: the URL's and the selector's values)."""
    return [str(y) for y in data.evaluation_rounds(context.reader())["year"]]


def _round_control(query: Any) -> str | None:
    years = round_years()
    return url_query.choice(query.get("round"), years, years[0] if years else None)


def _year(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and 2000 <= int(text) <= 2100 else None


PAGE = Page(__name__, path="/evaluation", name_key="nav.evaluation", permission=None, order=38, controls={
    "round": Control(_round_control),
    "unit": Control(lambda q: unit_code(url_query.first(q.get("unit")))),
})


# ----------------------------------------------------------------------------------------- labels
def state_label(state: str) -> str:
    return t(f"evaluation.state.{state}")


def stage_label(stage: str) -> str:
    return t(f"evaluation.stage.{stage}")


def kind_label(row: dict) -> str:
    """'市（州）卫生健康委', '县（市、区）卫生健康委' or '医院（三级）'."""
    if row.get("kind") == "hospital":
        tier = row.get("tier")
        return t("evaluation.kind.hospital") + (f"（{tier}）" if isinstance(tier, str) and tier else "")
    return t(f"evaluation.kind.{row.get('level') or 'county'}")


def _score(value: Any) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _str(value: Any) -> str:
    """A text cell ('' for None, NaN and NA)."""
    return value if isinstance(value, str) else ""


def _colon() -> str:
    return "：" if current_language() == "zh" else ": "


# ----------------------------------------------------------------------------------------- the units
def units(year: int | None) -> pd.DataFrame:
    """The round's units in the user's view with the grid's display columns (empty without a round)."""
    if year is None:
        return pd.DataFrame(columns=["unit_code", "name", "kind", "level", "adcode", "state", "sampled"])
    frame = data.evaluation_units(context.reader(), year)
    rate = frame["final_total"] / frame["max_total"]
    scored = frame["state"].isin(["submitted", "reviewed", "checked"])
    return frame.assign(
        kind_text=[t(f"evaluation.kind_short.{k if k == 'hospital' else lv}") + (f"（{tier}）" if k == "hospital"
                   and isinstance(tier, str) and tier else "")
                   for k, lv, tier in zip(frame["kind"], frame["level"], frame["tier"])],
        state_text=[state_label(s) for s in frame["state"]],
        pill=[PILL[s] for s in frame["state"]],
        rate=rate.where(scored),
        sampled_text=[t("evaluation.sampled_mark") if s else "" for s in frame["sampled"]],
    )


GRID_FIELDS = ["unit_code", "name", "kind_text", "state", "state_text", "pill", "self_total", "reviewed_total",
               "check_total", "final_total", "max_total", "rate", "differing_items", "sampled_text"]


def rows(frame: pd.DataFrame) -> list[dict]:
    if frame.empty:
        return []
    out = frame[GRID_FIELDS].astype(object).where(frame[GRID_FIELDS].notna(), None)
    return out.to_dict("records")


def columns() -> list[dict]:
    score = ",.1f"
    return [
        c.column("name", "evaluation.col.unit", pinned="left", minWidth=150, filter="agTextColumnFilter"),
        c.column("kind_text", "evaluation.col.kind", minWidth=100),
        c.pill_column("state_text", "evaluation.col.state", "pill", minWidth=90, maxWidth=110),
        c.number_column("self_total", t("evaluation.col.self_total"), score, minWidth=80),
        c.number_column("reviewed_total", t("evaluation.col.reviewed_total"), score, minWidth=80),
        c.number_column("check_total", t("evaluation.col.check_total"), score, minWidth=80),
        c.number_column("final_total", t("evaluation.col.final_total"), score, minWidth=80),
        c.number_column("rate", t("evaluation.col.rate"), ".1%", minWidth=80),
        c.number_column("differing_items", t("evaluation.col.differing"), ",.0f", minWidth=80,
                        cellClassRules={"evaluation-cell-differs": "params.value > 0"}),
        c.column("sampled_text", "evaluation.col.sampled", minWidth=80, maxWidth=100),
    ]


def unit_grid(frame: pd.DataFrame, selected: str | None) -> Any:
    extra = {"selectedRows": {"ids": [selected]}} if selected else {}
    return c.grid("evaluation-grid", rows(frame), columns(), height=None, page_size=15,
                  getRowId="params.data.unit_code",
                  dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                    "enableClickSelection": True}}, **extra)


def progress(frame: pd.DataFrame) -> dbc.Row:
    """The progress cards: units per state, sampled, items whose check differs from the self score."""
    width = {"xs": 6, "md": 3, "xl": True}
    counts = frame["state"].value_counts() if len(frame) else pd.Series(dtype=int)
    cards = [c.kpi(state_label(s), f"{int(counts.get(s, 0)):,}", f"evaluation-count-{s}", width=width)
             for s in ("not_started", "draft", "submitted", "reviewed", "checked")]
    sampled = int(frame["sampled"].sum()) if len(frame) else 0
    differing = int(frame["differing_items"].sum()) if len(frame) else 0
    cards.append(c.kpi(t("evaluation.count.sampled"), f"{sampled:,}", "evaluation-count-sampled", width=width))
    cards.append(c.kpi(t("evaluation.count.differing"), f"{differing:,}", "evaluation-count-differing",
                       sub=t("evaluation.count.differing_sub"), tone="bad" if differing else None, width=width))
    return dbc.Row(cards, className="g-3 mb-3", id="evaluation-progress")


def round_facts(year: int | None) -> Any:
    """The round's data month, deadlines, sample and publication, one line."""
    if year is None:
        return None
    r = data.evaluation_round(context.reader(), year)
    parts = [(t("evaluation.data_period"), period_label(r.data_period.strftime("%Y-%m"))),
             *[(t(f"evaluation.due.{s}"), r.due(s).isoformat()) for s in STAGES]]
    sample = t("evaluation.sample_drawn").format(rate=percent(r.sample_rate, 0), seed=r.sample_seed) \
        if r.sample_seed is not None else t("evaluation.sample_none")
    items = [html.Span([html.Span(k + _colon(), className="text-muted"), html.Strong(v)], className="me-3")
             for k, v in parts]
    items.append(html.Span([html.Span(t("evaluation.sample") + _colon(), className="text-muted"), sample],
                           className="me-3"))
    items.append(html.Span(t("evaluation.published" if r.published else "evaluation.unpublished"),
                           className=f"opsmon-pill opsmon-pill-{'eval_checked' if r.published else 'default'}",
                           id="evaluation-published"))
    return html.Div(items, className="d-flex flex-wrap align-items-center small", id="evaluation-round-facts")


# ----------------------------------------------------------------------------------------- the map
def map_figure(frame: pd.DataFrame) -> Any:
    """The score rate of the commissions in view on the user's map: the province's prefectures (and the counties
    it runs directly), a prefecture's counties, or a county among its prefecture's counties."""
    user = auth.current_user()
    if user is None or user.hospital_code:
        return empty_figure(t("evaluation.map_none"))
    regions = c.regions()
    by_code = regions.set_index("adcode")
    home = c.home_region()
    level = by_code["level"].get(home, "province")
    highlight = None
    if level in ("province", "nation"):
        geojson, url = outline("province", home)
        drawn = {f["properties"]["adcode"] for f in geojson["features"]}
    else:
        prefecture = home if level == "prefecture" else by_code["geo_parent_adcode"].get(home)
        geojson, url = outline("prefecture", prefecture)
        drawn = {f["properties"]["adcode"] for f in geojson["features"]}
        highlight = home if level == "county" else None
    if not drawn:
        return empty_figure(t("evaluation.map_none"))
    shown = frame[(frame["kind"] == "commission") & frame["adcode"].isin(drawn)] if len(frame) else frame
    values = shown.set_index("adcode") if len(shown) else pd.DataFrame(columns=["rate", "state_text"])
    codes = sorted(drawn)
    out = pd.DataFrame({"code": codes, "label": [c.region_name(x, regions) for x in codes]})
    out["value"] = [values["rate"].get(x) if x in values.index else None for x in codes]
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    out["extra"] = [values["state_text"].get(x, "") if x in values.index else t("evaluation.map_outside")
                    for x in codes]
    fig = region_map(out, url, RATE, title=t("evaluation.col.rate"), hover="extra", highlight=highlight,
                     scale=MAP_SCALE, height=420)
    return fig


# ----------------------------------------------------------------------------------------- layout
@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    year = _year(v["round"])
    header = c.page_header(t("evaluation.title"), t("evaluation.subtitle"))
    years = round_years()
    selector = dbc.Select(id="evaluation-round", value=v["round"], options=[
        {"label": t("evaluation.round_n").format(year=y), "value": y} for y in years])
    controls = html.Div(dbc.Row([
        c.labelled("evaluation.round", selector, "evaluation-round", xs=12, md=3, xl=2),
        dbc.Col(html.Div(round_facts(year), id="evaluation-facts"), className="d-flex align-items-end pb-2"),
    ], className="g-2"), className="opsmon-filters mb-3")
    unit_input = dcc.Input(id="evaluation-unit", type="hidden", value=v["unit"])
    if year is None:
        return PAGE.frame(header, controls, unit_input,
                          c.empty("evaluation.no_round_hint", title_key="evaluation.no_round"))
    frame = units(year)
    engine = context.reader()
    top = data.evaluation_at_top(engine)
    reports = html.Div([
        html.Span(t("evaluation.report") + _colon(), className="text-muted small me-2"),
        *(dbc.Button(fmt.upper(), id={"type": "evaluation-report", "fmt": fmt, "unit": ""}, color="primary",
                     outline=True, size="sm", className="me-2 opsmon-download") for fmt in ("docx", "pdf")),
    ], className="d-flex align-items-center justify-content-end mb-2", id="evaluation-reports")
    return PAGE.frame(
        header, controls, unit_input, reports,
        html.Div(progress(frame), id="evaluation-progress-box"),
        html.Div(admin_panel(year) if top else None, id="evaluation-admin"),
        html.Div(id="evaluation-admin-message"),  # always there: the confirm callback writes to it
        dbc.Row([
            dbc.Col(c.section(t("evaluation.map_title"), dcc.Graph(
                id="evaluation-map", figure=map_figure(frame), config=GRAPH_CONFIG)), lg=4),
            dbc.Col(c.section(html.Span(t("evaluation.list_n").format(n=len(frame)), id="evaluation-list-title"),
                              html.Div(unit_grid(frame, v["unit"]), id="evaluation-list")), lg=8),
        ], className="g-3 mb-3"),
        html.Div(id="evaluation-message"),
        c.loading(html.Div(sheet_view(year, v["unit"]), id="evaluation-sheet")),
        _confirm_dialog(),
        dcc.Store(id="evaluation-pending"),
        dcc.Store(id="evaluation-refresh", data=0),  # a step taken: the units and the sheet drawn again
        dcc.Store(id="evaluation-list-refresh", data=0),  # a score saved: the units only (the inputs stay)
        dcc.Download(id="evaluation-file"),
        dcc.Download(id="evaluation-sample-download"),
        dcc.Download(id="evaluation-report-download"),
    )


def _confirm_dialog() -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(t("evaluation.confirm_title"))),
        dbc.ModalBody(id="evaluation-confirm-text"),
        dbc.ModalFooter([dbc.Button(t("evaluation.cancel"), id="evaluation-cancel", color="secondary", outline=True),
                         dbc.Button(t("evaluation.confirm"), id="evaluation-confirm", color="primary")]),
    ], id="evaluation-confirm-modal", is_open=False, centered=True)


def admin_panel(year: int) -> Any:
    """The province's steps on the round: draw the sample, download its list, publish."""
    r = data.evaluation_round(context.reader(), year)
    sampled = r.sample_seed is not None
    body = dbc.Row([
        dbc.Col([dbc.Label(t("evaluation.rate"), html_for="evaluation-rate", className="mb-1"),
                 dbc.Input(id="evaluation-rate", type="number", min=0.01, max=1, step=0.01,
                           value=r.sample_rate if sampled else 0.3, disabled=sampled)], xs=6, md=2),
        dbc.Col([dbc.Label(t("evaluation.seed"), html_for="evaluation-seed", className="mb-1"),
                 dbc.Input(id="evaluation-seed", type="number", min=0, step=1,
                           value=r.sample_seed if sampled else None, disabled=sampled)], xs=6, md=2),
        dbc.Col([
            dbc.Button(t("evaluation.draw"), id="evaluation-draw", color="primary", disabled=sampled,
                       className="me-2"),
            dbc.Button(t("evaluation.sample_xlsx"), id="evaluation-sample-xlsx", color="primary", outline=True,
                       disabled=not sampled, className="me-2 opsmon-download"),
            dbc.Button(t("evaluation.publish"), id="evaluation-publish", color="success", disabled=r.published),
        ], className="d-flex align-items-end", xs=12, md=8),
    ], className="g-2")
    return c.section(t("evaluation.admin_title"), body, class_name="mb-3")


# ----------------------------------------------------------------------------------------- one unit's sheet
def sheet_view(year: int | None, value: Any, stage: str | None = None) -> Any:
    """The unit *value*'s sheet: its head (state, totals, what the user may do) and its items."""
    code = unit_code(value)
    if year is None or code is None:
        return html.Div(t("evaluation.pick"), className="opsmon-empty-small opsmon-card", id="evaluation-pick")
    engine = context.reader()
    try:
        unit, items = data.evaluation_sheet(engine, year, code)
        steps = data.evaluation_steps(engine, year, code)
        evidence = data.evaluation_evidence(engine, year, code)
    except EvaluationError:  # NotFound: outside the user's view (the same answer as none at all)
        return dbc.Alert(t("evaluation.not_found"), color="warning", id="evaluation-not-found")
    open_stages = [s for s in STAGES if steps[s] is None]
    stage = stage if stage in open_stages else (open_stages[0] if open_stages else None)
    return c.section(
        html.Span([unit["name"], html.Span(kind_label(unit), className="text-muted fw-normal ms-2 small")],
                  id="evaluation-sheet-title"),
        [sheet_head(unit, items, steps, stage),
         html.Div(items_table(year, unit, items, evidence, stage), id="evaluation-items")],
        class_name="mb-3")


def _totals(unit: dict, items: pd.DataFrame) -> dict[str, Any]:
    checked = unit.get("check_submitted_at") is not None
    def total(col):
        values = items[col].dropna()
        return float(values.sum()) if len(values) else None
    differing = int(((items["check_score"].notna()) & (items["check_score"] != items["self_score"])).sum())
    return {"self": total("self_score"), "review": float(items["review_score"].fillna(items["self_score"]).sum())
            if items["self_score"].notna().any() else None,
            "check": total("check_score") if checked or items["check_score"].notna().any() else None,
            "final": total("final_score"), "differing": differing}


def totals_strip(unit: dict, items: pd.DataFrame) -> list[Any]:
    """The sheet's totals (self, after review, check, final, of the maximum) and its differing items."""
    totals = _totals(unit, items)
    figures = [("self", totals["self"]), ("review", totals["review"]), ("check", totals["check"]),
               ("final", totals["final"])]
    strip = [html.Div([html.Div(t(f"evaluation.total.{k}"), className="kpi-label"),
                       html.Div([html.Span(_score(v), className="evaluation-total-value"),
                                 html.Span(f" / {unit['max_total']:g}", className="text-muted small")],
                                id=f"evaluation-total-{k}")], className="evaluation-total")
             for k, v in figures]
    strip.append(html.Div([html.Div(t("evaluation.count.differing"), className="kpi-label"),
                           html.Div(str(totals["differing"]), id="evaluation-total-differing",
                                    className="evaluation-total-value"
                                    + (" text-danger" if totals["differing"] else ""))],
                          className="evaluation-total"))
    return strip


def sheet_head(unit: dict, items: pd.DataFrame, steps: dict[str, str | None], stage: str | None) -> Any:
    """The unit's state, totals and stages: submitted when, open to the user until when, or why not."""
    state = ("checked" if unit.get("check_submitted_at") else "reviewed" if unit.get("review_submitted_at")
             else "submitted" if unit.get("self_submitted_at") else "draft" if items["self_score"].notna().any()
             else "not_started")
    r = unit["round"]
    badges = [html.Span(state_label(state), className=f"opsmon-pill opsmon-pill-{PILL[state]} me-2",
                        id="evaluation-unit-state"),
              html.Span(unit["sheet_name"], className="text-muted small me-2")]
    if unit.get("sampled"):
        badges.append(dbc.Badge(t("evaluation.sampled_badge"), color="warning", text_color="dark", className="me-2"))
    strip = totals_strip(unit, items)
    stages = []
    for s in STAGES:
        at = unit.get(f"{s}_submitted_at")
        if at is not None and not _missing(at):
            text, tone = t("evaluation.stage_submitted").format(at=timestamp(at)), "text-success"
        elif steps[s] is None:
            text, tone = t("evaluation.stage_open").format(due=r.due(s).isoformat()), "text-primary fw-semibold"
        else:
            text, tone = steps[s], "text-muted"
        stages.append(html.Li([html.Strong(stage_label(s) + _colon()), html.Span(text, className=tone)],
                              id=f"evaluation-stage-{s}"))
    open_stages = [s for s in STAGES if steps[s] is None]
    chooser = dbc.RadioItems(id="evaluation-stage", value=stage, inline=True, options=[
        {"label": stage_label(s), "value": s} for s in open_stages],
        className="mb-2" if len(open_stages) > 1 else "d-none")
    actions = [dbc.Button(t("evaluation.submit").format(stage=stage_label(s)),
                          id={"type": "evaluation-submit", "stage": s}, color="primary",
                          className=f"me-2 evaluation-submit-{s}") for s in open_stages]
    badges.append(html.Span([
        html.Span(t("evaluation.self_report") + _colon(), className="text-muted small me-1"),
        *(dbc.Button(fmt.upper(), id={"type": "evaluation-report", "fmt": fmt, "unit": unit["unit_code"]},
                     color="secondary", outline=True, size="sm", className="me-1 opsmon-download")
          for fmt in ("docx", "pdf"))], className="ms-2"))
    return html.Div([
        html.Div(badges, className="mb-2"),
        html.Div(strip, className="d-flex flex-wrap gap-4 mb-2", id="evaluation-totals"),
        dbc.Row([
            dbc.Col(html.Ul(stages, className="list-unstyled small mb-0", id="evaluation-stages"), md=7),
            dbc.Col([chooser, html.Div(actions or html.Span(t("evaluation.no_actions"),
                                                             className="text-muted small"),
                                       id="evaluation-actions")], md=5, className="text-md-end"),
        ], className="g-2 mb-2"),
    ], id="evaluation-sheet-head")


def _field(kind: str, item: str) -> dict:
    return {"type": f"evaluation-{kind}", "item": item}


def _edit_cell(stage: str, row: dict) -> html.Td:
    """The inputs of the stage being worked on, for one item: score, and its note and/or reason."""
    code = row["item_code"]
    current = row[f"{stage}_score"]
    placeholder = {"self": row["proposed"], "review": row["self_score"], "check": row["self_score"]}[stage]
    inputs = [dbc.InputGroup([
        dbc.Input(id=_field("score", code), type="number", min=0, max=row["max_score"], step=0.1,
                  value=None if _missing(current) else current,
                  placeholder="" if _missing(placeholder) else f"{placeholder:g}", size="sm",
                  className="evaluation-score-input"),
        dbc.Button(t("evaluation.save"), id=_field("save", code), size="sm", color="primary", outline=True,
                   className="evaluation-save"),
    ], size="sm", className="mb-1")]
    if stage in ("self", "check"):
        inputs.append(dbc.Textarea(id=_field("note", code), rows=1, size="sm", placeholder=t("evaluation.note"),
                                   value=_str(row[f"{stage}_note"]), className="mb-1 evaluation-note",
                                   maxLength=4000))
    if stage in ("self", "review"):
        hint = t("evaluation.reason_self" if stage == "self" else "evaluation.reason_review")
        inputs.append(dbc.Input(id=_field("reason", code), size="sm", placeholder=hint,
                                value=_str(row[f"{stage}_reason"]), className="evaluation-reason", maxLength=4000))
    inputs.append(html.Div(id=_field("status", code), className="small"))
    return html.Td(inputs, className="evaluation-edit")


def _read_cell(score: Any, *lines: tuple[str, Any], differs: bool = False) -> html.Td:
    parts = [html.Div(_score(score), className="fw-semibold")]
    parts += [html.Div([html.Span(label + _colon(), className="text-muted"), text], className="small")
              for label, text in lines if isinstance(text, str) and text]
    if differs:
        parts.append(html.Span(t("evaluation.differs"), className="opsmon-pill opsmon-pill-eval_differs"))
    return html.Td(parts)


def _value_text(row: dict) -> Any:
    if not isinstance(row["indicator"], str) or not row["indicator"]:
        return html.Span("—", className="text-muted")
    ind = catalogue.get(row["indicator"])
    value = None if _missing(row["value"]) else row["value"]
    return html.Div([html.Div(indicator_value(ind, value), className="fw-semibold"),
                     html.Div(c.label(ind), className="text-muted small"),
                     html.Div(t("evaluation.proposed").format(score=_score(row["proposed"])), className="small")])


def files_cell(code: str, evidence: pd.DataFrame) -> list[Any]:
    """An item's evidence files as download buttons."""
    found = evidence[evidence["item_code"] == code] if len(evidence) else evidence
    return [dbc.Button(f"{f['file_name']} ({max(1, round(f['size_bytes'] / 1024))} KB)",
                       id={"type": "evaluation-evidence", "id": int(f["evidence_id"])}, color="link", size="sm",
                       className="p-0 d-block text-start evaluation-evidence") for f in found.to_dict("records")]


def items_table(year: int, unit: dict, items: pd.DataFrame, evidence: pd.DataFrame, stage: str | None) -> Any:
    """One row per item, grouped by section; the stage the user works on has inputs; a check that differs from
    the self score is highlighted."""
    head = html.Thead(html.Tr([html.Th(t(k)) for k in (
        "evaluation.col.item", "evaluation.col.max", "evaluation.col.data", "evaluation.stage.self",
        "evaluation.stage.review", "evaluation.stage.check", "evaluation.col.final", "evaluation.col.evidence")]))
    body, section = [], None
    for row in items.to_dict("records"):
        if row["section"] != section:
            section = row["section"]
            body.append(html.Tr(html.Td(section, colSpan=8), className="evaluation-section-row"))
        differs = not _missing(row["check_score"]) and row["check_score"] != row["self_score"]
        adjusted = not _missing(row["review_score"]) and row["review_score"] != row["self_score"]
        cells = {
            "self": _read_cell(row["self_score"], (t("evaluation.note"), row["self_note"]),
                               (t("evaluation.reason"), row["self_reason"])),
            "review": _read_cell(row["review_score"], (t("evaluation.reason"), row["review_reason"])),
            "check": _read_cell(row["check_score"], (t("evaluation.note"), row["check_note"]), differs=differs),
        }
        if stage is not None:
            cells[stage] = _edit_cell(stage, row)
        item = html.Td([html.Div([html.Span(row["item_code"], className="text-muted me-2"),
                                  html.Strong(row["item"])]),
                        html.Div(row["criteria"], className="small"),
                        html.Div([html.Span(t("evaluation.evidence_expected") + _colon(), className="text-muted"),
                                  row["evidence"]], className="small text-muted") if _str(row["evidence"]) else None],
                       className="evaluation-item")
        upload = _upload(row["item_code"]) if stage == "self" else None
        classes = " ".join(x for x in ("evaluation-differs" if differs else "",
                                       "evaluation-adjusted" if adjusted else "") if x)
        body.append(html.Tr([
            item, html.Td(f"{row['max_score']:g}", className="text-end"), html.Td(_value_text(row)),
            cells["self"], cells["review"], cells["check"],
            html.Td(_score(row["final_score"]), className="text-end fw-bold"),
            html.Td([html.Div(files_cell(row["item_code"], evidence), id=_field("files", row["item_code"])), upload]),
        ], className=classes or None, id=f"evaluation-row-{row['item_code']}"))
    return html.Div(dbc.Table([head, html.Tbody(body)], bordered=False, hover=True, size="sm",
                              className="evaluation-table mb-0"), className="table-responsive")


def _upload(code: str) -> dcc.Upload:
    accept = ",".join(ext for exts in EXTENSIONS.values() for ext in exts)
    return dcc.Upload(id=_field("upload", code), max_size=MAX_BYTES, accept=accept, multiple=False,
                      children=html.Span(t("evaluation.upload")), className="evaluation-upload")


# ----------------------------------------------------------------------------------------- inputs
def decode_upload(data_url: Any, name: Any) -> tuple[str, bytes] | str:
    """An uploaded file as (name, bytes), or a message when it arrived damaged (what it is: the library checks)."""
    _, _, encoded = str(data_url or "").partition(",")
    try:
        content = base64.b64decode(encoded[:(MAX_BYTES // 3 + 1) * 4 + 4], validate=True)
    except (binascii.Error, ValueError):
        return t("evaluation.upload_unreadable").format(file=name)
    return str(name or "file"), content


def _field_value(kind: str, item: str, ids: list[dict] | None, values: list[Any] | None) -> Any:
    for key, value in zip(ids or [], values or []):
        if isinstance(key, dict) and key.get("item") == item and key.get("type") == f"evaluation-{kind}":
            return value
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _alert(text: str, color: str, component_id: str = "evaluation-alert") -> dbc.Alert:
    return dbc.Alert(text, color=color, id=component_id, dismissable=True, className="mb-3")


# ----------------------------------------------------------------------------------------- callbacks
@PAGE.callback(Output("evaluation-facts", "children"), Output("evaluation-progress-box", "children"),
               Output("evaluation-map", "figure"), Output("evaluation-grid", "rowData"),
               Output("evaluation-list-title", "children"), Output("evaluation-admin", "children"),
               Input("evaluation-round", "value"), Input("evaluation-refresh", "data"),
               Input("evaluation-list-refresh", "data"), prevent_initial_call=True)
def update_round(value, _refresh, _list_refresh, view):
    """The round's facts, progress, map and units (again after a step is taken)."""
    year = _year(value)
    if year is None or str(year) not in round_years():
        raise PreventUpdate
    frame = units(year)
    admin = admin_panel(year) if data.evaluation_at_top(context.reader()) else None
    return (round_facts(year), progress(frame), map_figure(frame), rows(frame),
            t("evaluation.list_n").format(n=len(frame)), admin)


@PAGE.callback(Output("evaluation-unit", "value", allow_duplicate=True), Input("evaluation-grid", "selectedRows"),
               State("evaluation-unit", "value"), prevent_initial_call=True)
def select(selected, current, view):
    """A click on a row opens its unit's sheet (its code goes into the URL)."""
    chosen = unit_code(selected[0].get("unit_code")) if selected and isinstance(selected[0], dict) else None
    if chosen is None or chosen == current:
        raise PreventUpdate
    return chosen


@PAGE.callback(Output("evaluation-sheet", "children"), Input("evaluation-unit", "value"),
               Input("evaluation-round", "value"), Input("evaluation-refresh", "data"), prevent_initial_call=True)
def update_sheet(value, year, _refresh, view):
    return sheet_view(_year(year), value)


@PAGE.callback(Output("evaluation-items", "children"), Input("evaluation-stage", "value"),
               State("evaluation-unit", "value"), State("evaluation-round", "value"), prevent_initial_call=True)
def choose_stage(stage, value, year, view):
    """Another open stage (the province reviewing and checking one unit): its inputs."""
    year, code = _year(year), unit_code(value)
    if year is None or code is None or stage not in STAGES:
        raise PreventUpdate
    engine = context.reader()
    try:
        unit, items = data.evaluation_sheet(engine, year, code)
        steps = data.evaluation_steps(engine, year, code)
        evidence = data.evaluation_evidence(engine, year, code)
    except EvaluationError:
        raise PreventUpdate from None
    return items_table(year, unit, items, evidence, stage if steps.get(stage) is None else None)


@PAGE.callback(Output("evaluation-message", "children", allow_duplicate=True),
               Output({"type": "evaluation-status", "item": ALL}, "children"),
               Output("evaluation-totals", "children"), Output("evaluation-list-refresh", "data"),
               Input({"type": "evaluation-save", "item": ALL}, "n_clicks"),
               State({"type": "evaluation-score", "item": ALL}, "id"),
               State({"type": "evaluation-score", "item": ALL}, "value"),
               State({"type": "evaluation-note", "item": ALL}, "id"),
               State({"type": "evaluation-note", "item": ALL}, "value"),
               State({"type": "evaluation-reason", "item": ALL}, "id"),
               State({"type": "evaluation-reason", "item": ALL}, "value"),
               State({"type": "evaluation-status", "item": ALL}, "id"),
               State("evaluation-stage", "value"), State("evaluation-unit", "value"), State("evaluation-round", "value"),
               State("evaluation-list-refresh", "data"), prevent_initial_call=True)
def save(_clicks, score_ids, scores, note_ids, notes, reason_ids, reasons, status_ids, stage, value, year, refresh,
         view):
    """An item's Save: the score (with its note and reason) recorded at the stage being worked on — or the
    library's reason for refusing it, nothing changed."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    item = str(trigger.get("item"))
    year, code = _year(year), unit_code(value)
    statuses = [no_update] * len(status_ids or [])
    if year is None or code is None or stage not in STAGES:
        return _alert(t("evaluation.select_first"), "warning"), statuses, no_update, no_update
    score = _field_value("score", item, score_ids, scores)
    if score is None or score == "":
        return _alert(t("evaluation.score_missing").format(item=item), "danger"), statuses, no_update, no_update
    engine = context.writer()
    try:
        data.evaluation_score(engine, year, code, item, score, stage=stage,
                              note=_text(_field_value("note", item, note_ids, notes)),
                              reason=_text(_field_value("reason", item, reason_ids, reasons)))
    except EvaluationError as e:
        return _alert(t("evaluation.failed").format(message=e.message), "danger"), statuses, no_update, no_update
    statuses = [html.Span(t("evaluation.saved"), className="text-success") if k.get("item") == item else no_update
                for k in status_ids or []]
    unit, items = data.evaluation_sheet(engine, year, code)
    totals = totals_strip(unit, items)
    return (_alert(t("evaluation.saved_item").format(item=item, stage=stage_label(stage), score=_score(float(score))),
                   "success"), statuses, totals, (refresh or 0) + 1)


@PAGE.callback(Output("evaluation-message", "children", allow_duplicate=True),
               Output({"type": "evaluation-files", "item": ALL}, "children"),
               Input({"type": "evaluation-upload", "item": ALL}, "contents"),
               State({"type": "evaluation-upload", "item": ALL}, "filename"),
               State({"type": "evaluation-upload", "item": ALL}, "id"),
               State({"type": "evaluation-files", "item": ALL}, "id"),
               State("evaluation-unit", "value"), State("evaluation-round", "value"), prevent_initial_call=True)
def upload(contents, names, upload_ids, file_ids, value, year, view):
    """A file dropped on an item's upload: stored as its evidence (the library checks kind, size, count and
    whether the self-assessment is still open), then the item's files listed again."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    item = str(trigger.get("item"))
    keep = [no_update] * len(file_ids or [])
    year, code = _year(year), unit_code(value)
    if year is None or code is None:
        return _alert(t("evaluation.select_first"), "warning"), keep
    index = next((i for i, k in enumerate(file_ids or []) if k.get("item") == item), None)
    at = next((i for i, k in enumerate(upload_ids) if isinstance(k, dict) and k.get("item") == item), None)
    if at is None or index is None:
        raise PreventUpdate
    found = decode_upload(contents[at], names[at] if names else None)
    if isinstance(found, str):
        return _alert(found, "danger"), keep
    engine = context.writer()
    try:
        data.evaluation_add_evidence(engine, year, code, item, *found)
    except EvaluationError as e:
        return _alert(t("evaluation.failed").format(message=e.message), "danger"), keep
    keep[index] = files_cell(item, data.evaluation_evidence(engine, year, code))
    return _alert(t("evaluation.uploaded").format(file=found[0], item=item), "success"), keep


@PAGE.callback(Output("evaluation-confirm-modal", "is_open"), Output("evaluation-confirm-text", "children"),
               Output("evaluation-pending", "data"), Output("evaluation-message", "children", allow_duplicate=True),
               Input({"type": "evaluation-submit", "stage": ALL}, "n_clicks"), Input("evaluation-cancel", "n_clicks"),
               State("evaluation-unit", "value"), State("evaluation-round", "value"), prevent_initial_call=True)
def ask(_submits, _cancel, value, year, view):
    """A stage's Submit button: what it will do, in the confirmation dialog (Cancel closes it)."""
    trigger = ctx.triggered_id
    if trigger == "evaluation-cancel":
        return False, no_update, None, no_update
    # A button appearing (another sheet drawn) fires this too, with no click: nothing to do.
    if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    year, stage, code = _year(year), trigger.get("stage"), unit_code(value)
    if year is None or stage not in STAGES or code is None:
        raise PreventUpdate
    try:
        unit, _items = data.evaluation_sheet(context.reader(), year, code)
    except EvaluationError as e:
        return False, no_update, None, _alert(t("evaluation.failed").format(message=e.message), "danger")
    text = t("evaluation.confirm_submit").format(unit=unit["name"], stage=stage_label(stage))
    return True, text, {"action": "submit", "stage": stage, "unit": code, "year": year}, None


@PAGE.callback(Output("evaluation-confirm-modal", "is_open", allow_duplicate=True),
               Output("evaluation-confirm-text", "children", allow_duplicate=True),
               Output("evaluation-pending", "data", allow_duplicate=True),
               Output("evaluation-admin-message", "children", allow_duplicate=True),
               Input("evaluation-draw", "n_clicks"), Input("evaluation-publish", "n_clicks"),
               State("evaluation-round", "value"), State("evaluation-rate", "value"), State("evaluation-seed", "value"),
               prevent_initial_call=True)
def ask_admin(_draw, _publish, year, rate, seed, view):
    """The province's Draw or Publish button: what it will do, in the confirmation dialog."""
    trigger, year = ctx.triggered_id, _year(year)
    if trigger not in ("evaluation-draw", "evaluation-publish") or not ctx.triggered[0].get("value") or year is None:
        raise PreventUpdate
    if trigger == "evaluation-publish":
        return True, t("evaluation.confirm_publish").format(year=year), {"action": "publish", "year": year}, None
    try:
        rate, seed = float(rate), int(seed)
    except (TypeError, ValueError):
        return False, no_update, None, _alert(t("evaluation.sample_missing"), "danger", "evaluation-admin-alert")
    text = t("evaluation.confirm_sample").format(year=year, rate=percent(rate, 0), seed=seed)
    return True, text, {"action": "sample", "year": year, "rate": rate, "seed": seed}, None


@PAGE.callback(Output("evaluation-message", "children"), Output("evaluation-admin-message", "children"),
               Output("evaluation-confirm-modal", "is_open", allow_duplicate=True),
               Output("evaluation-refresh", "data"), Input("evaluation-confirm", "n_clicks"),
               State("evaluation-pending", "data"), State("evaluation-refresh", "data"), prevent_initial_call=True)
def confirm(_n, pending, refresh, view):
    """Take the confirmed step and say how it went: done, or the library's reason (nothing changed)."""
    if not isinstance(pending, dict) or pending.get("action") not in ACTIONS or _year(pending.get("year")) is None:
        raise PreventUpdate
    action, year, engine = pending["action"], _year(pending["year"]), context.writer()
    try:
        if action == "submit":
            stage, code = pending.get("stage"), unit_code(pending.get("unit"))
            if stage not in STAGES or code is None:
                raise PreventUpdate
            data.evaluation_submit(engine, year, code, stage=stage)
            unit, _items = data.evaluation_sheet(engine, year, code)
            done = t("evaluation.submitted").format(unit=unit["name"], stage=stage_label(stage))
        elif action == "sample":
            drawn = data.evaluation_draw_sample(engine, year, rate=float(pending["rate"]), seed=int(pending["seed"]))
            done = t("evaluation.sample_done").format(n=len(drawn))
        else:
            data.evaluation_publish(engine, year)
            done = t("evaluation.publish_done").format(year=year)
    except EvaluationError as e:
        message = _alert(t("evaluation.failed").format(message=e.message), "danger",
                         "evaluation-alert" if action == "submit" else "evaluation-admin-alert")
        return (message, no_update, False, no_update) if action == "submit" else (no_update, message, False,
                                                                                  no_update)
    if action == "submit":
        return _alert(done, "success"), no_update, False, (refresh or 0) + 1
    return no_update, _alert(done, "success", "evaluation-admin-alert"), False, (refresh or 0) + 1


@PAGE.callback(Output("evaluation-file", "data"), Input({"type": "evaluation-evidence", "id": ALL}, "n_clicks"),
               prevent_initial_call=True)
def send_evidence(_clicks, view):
    """An evidence file, if its unit is in the user's view (the library's check); the download is audited."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    raw = trigger.get("id")
    evidence_id = int(raw) if isinstance(raw, int) and 0 < raw < 2**63 else None
    found = data.evaluation_evidence_file(context.reader(), evidence_id) if evidence_id else None
    if found is None:
        raise PreventUpdate
    data.record_export(found["file_name"], 1, evidence=evidence_id)
    return dcc.send_bytes(found["content"], found["file_name"])


@PAGE.callback(Output("evaluation-sample-download", "data"), Input("evaluation-sample-xlsx", "n_clicks"),
               State("evaluation-round", "value"), prevent_initial_call=True)
def download_sample(_n, year, view):
    """The spot-check list (XLSX) of the sampled units the user sees; audited."""
    year = _year(year)
    if not _n or year is None:
        raise PreventUpdate
    data.check_export()
    frame = data.evaluation_sample(context.reader(), year)
    name = t("evaluation.sample_file").format(year=year)
    data.record_export(name, len(frame), round=year)
    return dcc.send_bytes(sample_xlsx(year, frame), name)


@PAGE.callback(Output("evaluation-report-download", "data"), Output("evaluation-message", "children",
                                                                    allow_duplicate=True),
               Input({"type": "evaluation-report", "fmt": ALL, "unit": ALL}, "n_clicks"),
               State("evaluation-round", "value"), prevent_initial_call=True)
def download_report(clicks, year, view):
    """The 全省评价报告, or a unit's 自评报告 skeleton, as the user sees them (DOCX or PDF); audited as an export.
    Every user of the page may take them: documents to edit and print, built from what they may see."""
    year = _year(year)
    trigger = ctx.triggered_id
    if year is None or not isinstance(trigger, dict) or not any(clicks or []) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    fmt, code = trigger["fmt"], unit_code(trigger["unit"]) if trigger["unit"] else None
    try:
        content = data.evaluation_report(context.reader(), year, fmt, code)
    except (EvaluationError, ValueError) as e:
        return None, _alert(getattr(e, "message", str(e)), "danger")
    if code:
        unit, _ = data.evaluation_sheet(context.reader(), year, code)
        name = t("evaluation.self_report_file").format(name=unit["name"], code=code, year=year, fmt=fmt)
    else:
        name = t("evaluation.report_file").format(year=year, fmt=fmt)
    data.record_export(name, 1, kind="evaluation_report", round=year, unit=code, format=fmt)
    return dcc.send_bytes(content, name), None
