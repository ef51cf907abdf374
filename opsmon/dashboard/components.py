"""The pages' shared building blocks: cards, empty states, grids, controls, links.

One component library (dash-bootstrap-components) and one grid (dash-ag-grid);
every label comes from :mod:`opsmon.dashboard.strings`, in the request's language.
Data reads go through :mod:`opsmon.dashboard.data` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from opsmon import geo
from opsmon import periods as ind_periods
from opsmon.dashboard import auth, context, data, url_query
from opsmon.dashboard import paged_grid as paged
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import GRAPH_CONFIG, flag
from opsmon.dashboard.format import period_label
from opsmon.dashboard.strings import current_language, in_language, t
from opsmon.indicators import CATALOGUE, SPANS, get, reporting
from opsmon.periods import SPAN_LABELS
from opsmon.indicators.restrict import FILTERS
from opsmon.indicators.risk_rules import BY_ID as RISK_RULES
from opsmon.indicators.risk_rules import LEVEL_LABELS, LEVELS, explain
from opsmon.ingest.fields import FIELDS

HISTORY_MONTHS = 36
GROUP_ORDER = ("financial", "counts", "programme")


# ----------------------------------------------------------------------------------------- data helpers
def root_region() -> str:
    """The adcode at the top of the hierarchy this database serves: its province, or 100000 (全国) in a
    national instance."""
    return reporting.root_code(context.reader())


def whole_region_label() -> str:
    """What an empty region filter means: 全省, or 全国 in a national instance."""
    return t("filter.whole_nation" if root_region() == geo.NATION else "filter.whole_province")


def regions() -> pd.DataFrame:
    """The served region's table (adcode, name, level, parent_adcode, geo_parent_adcode)."""
    return geo.load_regions(root_region())


def region_name(code: str | None, frame: pd.DataFrame | None = None) -> str:
    """The name of region *code* ('' when unknown)."""
    frame = regions() if frame is None else frame
    hit = frame.loc[frame["adcode"] == code, "name"]
    return str(hit.iloc[0]) if len(hit) else ""


def available_periods() -> list[str]:
    """Months with reported data among the last three years, newest first ('YYYY-MM')."""
    return _periods(context.reader())


@memo
def _periods(engine) -> list[str]:
    # Memoised: every control of a page asks for them while its layout is built.
    latest = reporting.latest_period(engine)
    if latest is None:
        return []
    start = ind_periods.add_months(ind_periods.to_date(latest), -(HISTORY_MONTHS - 1))
    frame = data.series(engine, "hospitals_reporting", reporting.root_code(engine), start, latest)
    months = frame.loc[frame["value"] > 0, "period"].tolist()
    return sorted(months, reverse=True) or [latest]


def reporting_months() -> tuple[str, str]:
    """(the collecting month, the latest closed month) now (:func:`opsmon.periods.reporting_months`: the
    configured due day and zone, the app's clock)."""
    return ind_periods.reporting_months(context.reader())


def default_period() -> str | None:
    """The month a page opens on when its URL names none: the latest closed month.

    The rule of :func:`opsmon.periods.default_period` over :func:`available_periods`: the latest
    closed month when it has data, else the newest month with data before it (a demo pinned in the
    past), else the newest month with data; None without data.
    """
    periods = available_periods()
    closed = reporting_months()[1]
    return next((p for p in periods if p <= closed), periods[0] if periods else None)


def collecting_periods() -> list[str]:
    """:func:`available_periods` with the collecting month added (it may have no report yet), newest first:
    the choices of the pages that open on it (报送)."""
    collecting = reporting_months()[0]
    return sorted(set(available_periods()) | {collecting}, reverse=True)


def reporting_counts(period: str, unit: str) -> tuple[int, int]:
    """(hospitals reporting, hospitals expected) for *period* in *unit* — a region adcode or a hospital code
    (0 or 1 of 1) — within the signed-in user's scope."""
    engine = context.reader()
    ids = ["hospitals_reporting", "hospitals_expected"]
    if len(unit) == 18:  # a hospital code (a region adcode has 6 digits): its own row, not everyone's
        frame = data.fetch(engine, ids, "hospital", [period], code=unit)
    else:
        level = regions().set_index("adcode")["level"].get(unit, "province")
        frame = data.query(engine, ids, level, period, region=unit)
    values = frame[frame["code"] == unit].set_index("indicator")["value"]
    return tuple(int(values.get(i)) if pd.notna(values.get(i)) else 0 for i in ids)  # type: ignore[return-value]


def period_status(period: str | None, unit: str, prefix: str) -> Any:
    """What a view says beside its month, for *unit* (a region adcode or a hospital code).

    The collecting month (or a later one): collection is in progress — 已报 n / 应报 m, 截止 date (an
    alert, id ``{prefix}-period-collecting``). A closed month: 已报 n / 应报 m and the reporting rate;
    for a hospital, 已报送 / 未报送 (id ``{prefix}-period-closed``).
    """
    if not period:
        return None
    n, m = reporting_counts(period, unit)
    if period >= reporting_months()[0]:
        due = ind_periods.due_date(period, ind_periods.configured_due_day(context.reader()))
        return dbc.Alert(t("period.collecting").format(period=period_label(period), n=f"{n:,}", m=f"{m:,}",
                                                       due=due.isoformat()),
                         color="info", id=f"{prefix}-period-collecting", className="py-2 mb-0")
    if len(unit) == 18:
        text = t("period.hospital_reported" if n else "period.hospital_missing").format(period=period_label(period))
    else:
        text = t("period.closed").format(period=period_label(period), n=f"{n:,}", m=f"{m:,}",
                                         rate=f"{n / m:.1%}" if m else "—")
    return html.Div(text, id=f"{prefix}-period-closed", className="text-muted small")


@memo
def evaluated_targets(engine, region: str, period: str) -> pd.DataFrame:
    """:func:`opsmon.indicators.targets.evaluate` for *region* as of *period* (the targets page and the overview's cards)."""
    return data.evaluate_targets(engine, region=region, as_of=period)


def year_earlier(period: str) -> str:
    """The month twelve months before *period*."""
    return months_before(period, 12)


def months_before(period: str, months: int) -> str:
    """The month *months* before *period* ('YYYY-MM')."""
    return ind_periods.to_period(ind_periods.add_months(ind_periods.to_date(period), -months))


# ----------------------------------------------------------------------------------------- labels
def label(entry: Any) -> str:
    """A catalogue entry's name (an indicator, a risk rule) in the request's language."""
    return entry.label(current_language())


def enum_label(value: Any) -> str:
    """A registry value (三级, 综合医院 …) in the request's language."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no")
    return t(f"enum.{value}") if current_language() == "en" else str(value)


def span_label(span: str) -> str:
    """当月 / Month …"""
    return in_language(*SPAN_LABELS[span])


def risk_level_label(level: str | None) -> str:
    """红色 / Red … ('—' for none)."""
    return in_language(*LEVEL_LABELS[level]) if level in LEVEL_LABELS else "—"


def risk_explanation(rule: str, level: str | None, detail: Any) -> str:
    """Why a risk fired, in the request's language: the triggering values and the threshold
    (:func:`opsmon.indicators.risk_rules.explain` on the firing's stored detail)."""
    if rule not in RISK_RULES:
        return ""
    return explain(rule, str(level), detail if isinstance(detail, dict) else None, current_language())


# A risk-disposal status's pill colour (the 风险处置 page, the hospital profile), from the palette the grids
# already have (opsmon.css): orange waiting for the supervisor, red overdue, green closed.
DISPOSAL_PILL = {"open": "open", "assigned": "default", "responded": "processing", "returned": "persisting",
                 "closed": "closed", "overdue": "missed"}


def disposal_status_label(status: str) -> str:
    """A disposal status (a state, or overdue): 待交办 … 已逾期 (en: To assign … Overdue)."""
    return t(f"disposal.state.{status}")


def risk_severity(level: Any) -> int:
    """A level's rank for sorting, most severe highest (red 3, orange 2, yellow 1; none 0)."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def indicator_title(ind_id: str) -> str:
    """'收支结余率（%）' — the name with its unit."""
    ind = get(ind_id)
    unit = {"%": "%", "": "", "家": "", "个": ""}.get(ind.unit) if ind.unit in ("%", "", "家", "个") else \
        t(f"unit.{ind.unit}")
    name = label(ind)
    return f"{name}（{unit}）" if unit and current_language() == "zh" else (f"{name} ({unit})" if unit else name)


# ----------------------------------------------------------------------------------------- 近似
# The optional fields an approximation stands in for, by code: (Chinese label, English label), without
# their explanations in brackets (医疗服务收入（挂号、床位……） → 医疗服务收入).
_FIELD_LABELS = {f.code: (f.label.split("（")[0], (f.en or f.code).split(" (")[0].lower())
                 for kind in ("monthly", "progress") for f in FIELDS[kind]}


def approx_text(ind: Any, hospital: bool = False) -> str:
    """Why a value of *ind* is 近似, in the request's language (a tooltip, a hover line, an export note).

    '近似：部分医院未报送医疗服务收入，按近似口径计算（以医疗收入扣除药品、卫生材料、检查、化验收入近似）' — the
    fields are the catalogue's :class:`~opsmon.indicators.catalogue.Approximation` ``needs``, the stand-in
    its note (Chinese only: the note is written in Chinese). *hospital*: one hospital's value (本院).
    """
    approx = getattr(ind, "approximation", None)
    if approx is None:
        return t("approx.badge")
    zh = current_language() == "zh"
    fields = ("、" if zh else ", ").join(in_language(*_FIELD_LABELS.get(f, (f, f))) for f in approx.needs)
    # The catalogue's note reads '未报X：以Y近似' — the part after the colon says what stands in.
    how = approx.note.split("：", 1)[-1] if approx.note else ""
    text = t("approx.tip_hospital" if hospital else "approx.tip").format(fields=fields)
    return f"{text}（{how}）" if zh and how else text


def approx_badge(ind: Any, approx: Any, hospital: bool = False, id: str | None = None) -> Any:
    """A small '近似' badge whose tooltip says why (:func:`approx_text`); None for an exact value."""
    if not is_approx(approx):
        return None
    extra = {"id": id} if id else {}
    return html.Sup(t("approx.badge"), title=approx_text(ind, hospital), className="opsmon-approx badge "
                    "rounded-pill text-bg-warning ms-1", **extra)


def is_approx(value: Any) -> bool:
    """Whether a frame's ``approx`` cell says 近似 (NaN, None and False do not)."""
    return flag(value)


def approx_cell(value: Any) -> str:
    """A grid or export cell of the 近似 column: '近似' (en 'approx.') or empty."""
    return t("approx.badge") if is_approx(value) else ""


def direct_label(name: Any) -> Any:
    """*name* (a string, or a column of them) marked as run directly by the province: '梅河口市（省直管）'."""
    return name + f"（{t('region.direct')}）"


# ----------------------------------------------------------------------------------------- layout pieces
def page_header(title: str, subtitle: str | None = None, actions: Any = None) -> html.Div:
    return html.Div([
        html.Div([html.H4(title, className="opsmon-page-title mb-0"),
                  html.Div(subtitle, className="opsmon-page-subtitle") if subtitle else None]),
        html.Div(actions, className="ms-auto d-flex gap-2 align-items-center") if actions else None,
    ], className="d-flex align-items-end mb-3 flex-wrap gap-2")


def section(title: Any, body: Any, *, actions: Any = None, class_name: str = "", body_id: str | None = None
            ) -> dbc.Card:
    """A titled card; *actions* (e.g. download buttons) sit at the title's right."""
    head = html.Div([
        html.Div(title, className="opsmon-section-title mb-0"),
        html.Div(actions, className="ms-auto d-flex gap-2") if actions else None,
    ], className="d-flex align-items-center mb-2 gap-2 flex-wrap")
    body_kwargs = {"id": body_id} if body_id else {}
    return dbc.Card(dbc.CardBody([head, html.Div(body, **body_kwargs)]), className=f"opsmon-card h-100 {class_name}")


def kpi(label: str, value: str, test_id: str, *, sub: Any = None, badge: Any = None, href: str | None = None,
        tone: str | None = None, width: dict | None = None) -> dbc.Col:
    """A KPI card: label, big value (its element carries *test_id*), a line below, an optional badge.

    With *href* the whole card is a link (a leader's next click).
    """
    body = dbc.CardBody([
        html.Div([html.Span(label, className="kpi-label"), badge], className="d-flex justify-content-between gap-1"),
        html.Div(value, className="kpi-value", id=test_id),
        html.Div(sub, className="kpi-sub") if sub is not None else None,
    ])
    card = dbc.Card(body, className=f"opsmon-kpi h-100 {('kpi-' + tone) if tone else ''}")
    if href:
        card = dcc.Link(card, href=href, className="opsmon-kpi-link")
    return dbc.Col(card, **(width or {"xs": 6, "md": 4, "xl": 3}))


def empty(hint_key: str = "data.none_hint", *, title_key: str = "data.none_period") -> html.Div:
    """The friendly empty state: "本期暂无数据" and what to do about it."""
    return html.Div([html.Div("∅", className="opsmon-empty-icon"), html.H5(t(title_key)),
                     html.P(t(hint_key), className="mb-0")], className="opsmon-empty")


def loading(child: Any) -> dcc.Loading:
    return dcc.Loading(child, type="dot", color="#1f4e79", delay_show=200)


def graph(component_id: str) -> dcc.Loading:
    """A chart (``dcc.Graph`` served with the shipped topojson) with the app's loading dots."""
    return dcc.Loading(dcc.Graph(id=component_id, config=GRAPH_CONFIG), type="dot", color="#1f4e79")


# ----------------------------------------------------------------------------------------- controls
_DROPDOWN_LABELS = ("select_all", "deselect_all", "selected_count", "search", "clear_search", "clear_selection",
                    "no_options_found")


def dropdown(**kwargs: Any) -> dcc.Dropdown:
    """A ``dcc.Dropdown`` whose own labels ("Select All", "3 selected" …) are in the request's language."""
    return dcc.Dropdown(labels={key: t(f"dropdown.{key}") for key in _DROPDOWN_LABELS}, **kwargs)


def labelled(label_key: str, control: Any, html_for: str | None = None, **width: Any) -> dbc.Col:
    """A column holding a control under its label (*html_for*: the control's id, for screen readers)."""
    return dbc.Col([dbc.Label(t(label_key), html_for=html_for), control], **width)


def period_dropdown(component_id: str, periods: Sequence[str], value: str | None) -> dcc.Dropdown:
    zh = current_language() == "zh"
    return dropdown(id=component_id, options=[{"label": f"{period_label(p)}（{p}）" if zh else f"{period_label(p)} ({p})",
                                               "value": p} for p in periods],
                    value=value, clearable=False, searchable=False)


def span_control(component_id: str, value: str) -> dbc.RadioItems:
    return dbc.RadioItems(id=component_id, options=[{"label": span_label(s), "value": s} for s in SPANS],
                          value=value, inline=True, className="opsmon-radio")


def indicator_options(ids: Iterable[str] | None = None) -> list[dict]:
    """Catalogue entries as dropdown options, grouped (a disabled header per group)."""
    wanted = set(ids) if ids is not None else None
    options: list[dict] = []
    for group in GROUP_ORDER:
        entries = [i for i in CATALOGUE if i.group == group and (wanted is None or i.id in wanted)]
        if not entries:
            continue
        options.append({"label": f"— {t(f'group.{group}')} —", "value": f"__{group}", "disabled": True})
        options += [{"label": label(i), "value": i.id, "search": f"{i.zh} {i.en} {i.id}"} for i in entries]
    return options


def indicator_dropdown(component_id: str, value: str, ids: Iterable[str] | None = None) -> dcc.Dropdown:
    return dropdown(id=component_id, options=indicator_options(ids), value=value, clearable=False,
                    optionHeight=32, maxHeight=420)


def home_region() -> str:
    """Where region views start for the signed-in user: their region (the province for province users)."""
    user = auth.current_user()
    return user.region_adcode.strip() if user is not None and user.region_adcode else root_region()


def regions_in_scope() -> set[str]:
    """Adcodes the signed-in user may look at: their region and everything under it (none for a hospital)."""
    frame = regions()
    user = auth.current_user()
    if user is None or user.hospital_code:
        return set()
    children: dict[str, list[str]] = {}
    for code, parent in zip(frame["adcode"], frame["parent_adcode"]):
        children.setdefault(parent, []).append(code)
    found, todo = set(), [user.scope]
    while todo:
        code = todo.pop()
        found.add(code)
        todo += children.get(code, [])
    return found


def region_options(levels: Sequence[str] = ("nation", "province", "prefecture", "county"),
                   include_root: bool = True) -> list[dict]:
    """Regions of *levels* as options, top down: each unit followed by the units under it (indented).

    ``include_root=False`` leaves out the served province (or nation): for pickers whose empty value means it.

    Only the regions in the signed-in user's scope are offered (the server enforces the scope anyway).
    """
    options = _region_options(root_region(), current_language(), tuple(levels), include_root)
    allowed = regions_in_scope()
    return [o for o in options if o["value"] in allowed]


@lru_cache(maxsize=8)
def _region_options(root: str, lang: str, levels: tuple[str, ...], include_root: bool) -> list[dict]:
    frame = geo.load_regions(root)
    names = dict(zip(frame["adcode"], frame["name"]))
    level_of = dict(zip(frame["adcode"], frame["level"]))
    parent_of = dict(zip(frame["adcode"], frame["parent_adcode"]))
    # Under each unit: the prefecture-level units first, then the county-level units it runs
    # directly (吉林 梅河口市), each in code order.
    children: dict[str | None, list[str]] = {}
    for code in sorted(frame["adcode"], key=lambda a: (level_of[a] == "county", a)):
        children.setdefault(parent_of[code], []).append(code)
    options: list[dict] = []
    todo = [(code, 0) for code in reversed(children.get(None, []))]
    while todo:  # depth first, in order
        code, depth = todo.pop()
        todo += [(kid, depth + 1) for kid in reversed(children.get(code, []))]
        if level_of[code] not in levels or (code == root and not include_root):
            continue
        parent = parent_of[code]
        # The root and the level under it start at the margin; counties are indented under their prefecture.
        indent = "\u3000" * max(depth - 1, 0)
        if level_of[code] == "county" and level_of[parent] in ("province", "nation"):
            options.append({"label": f"{indent}{names[code]}（{t('region.direct', lang)}）", "value": code})
        elif level_of[code] == "county":
            options.append({"label": indent + names[code], "value": code, "search": names[parent] + names[code]})
        else:
            options.append({"label": indent + names[code], "value": code})
    return options


def quartiles(values) -> pd.DataFrame:
    """Per group of *values* (a grouped series): median, lower and upper quartile, and how many have a value —
    the peer statistics beside a hospital's value (rankings, the hospital profile)."""
    return pd.DataFrame({"median": values.median(), "q1": values.quantile(0.25), "q3": values.quantile(0.75),
                         "n": values.count()})


def region_dropdown(component_id: str, value: str | None) -> dcc.Dropdown:
    """A picker of the regions under the served one; empty means all of it (全省 / 全国). Searched on the server
    when long: its page registers ``PAGE.search_options(component_id, region_choices)``."""
    return dropdown(id=component_id, options=offered(region_choices(), value), value=value,
                    placeholder=whole_region_label())


def region_choices() -> list[dict]:
    """Every choice of :func:`region_dropdown` (the regions in scope under the served one)."""
    return region_options(include_root=False)


# A picker with more choices than this is sent the chosen ones and the top level; the rest are found by typing
# (the page's search callback, Page.search_options): a national instance has 3,200 counties and 12,000 hospitals.
PICKER_OPTIONS = 300
# At most this many matches of a typed search are sent.
PICKER_MATCHES = 50


def offered(options: list[dict], value: str | list[str] | None) -> list[dict]:
    """What a picker of *options* is sent with its layout: all of them when few; else the chosen *value(s)* and
    the level under the served region (prefectures, or provinces nationally) — the rest by search (:func:`matching`)."""
    if len(options) <= PICKER_OPTIONS:
        return options
    chosen = set(value if isinstance(value, list) else [value])
    frame = regions()
    top = set(frame.loc[frame["parent_adcode"] == root_region(), "adcode"]) | {root_region()}
    return [o for o in options if o["value"] in chosen or o["value"] in top]


def matching(options: list[dict], text: str, value: str | list[str] | None) -> list[dict]:
    """The options whose label or search text contains *text* (case-blind; the first :data:`PICKER_MATCHES`), after
    the chosen *value(s)* (a picker must hold the options of its values to show their labels)."""
    chosen = set(value if isinstance(value, list) else [value])
    needle = text.strip().lower()
    hits = [o for o in options if o["value"] not in chosen
            and needle in f"{o['label']} {o.get('search', '')}".lower()]
    return [o for o in options if o["value"] in chosen] + hits[:PICKER_MATCHES]


def multi_dropdown(component_id: str, value: list[str], options: list[dict]) -> dcc.Dropdown:
    """A multi-select whose empty value means "all"."""
    return dropdown(id=component_id, multi=True, value=value, placeholder=t("filter.all"), options=options)


def filter_controls(prefix: str, values: dict[str, Any], region: str | None = None) -> list[dbc.Col]:
    """Multi-selects for tier, category, affiliation, authority, a pilot choice and a region picker.

    Ids: ``{prefix}-tier`` … ``{prefix}-pilot``, ``{prefix}-region``; *values* are the controls'
    values (lists, and the pilot choice '', '1' or '0').
    """
    width = {"xs": 6, "md": 4, "xl": 2}
    cols = [labelled(f"filter.{key}", multi_dropdown(f"{prefix}-{key}", values.get(key, []), [
        {"label": enum_label(v), "value": v} for v in FILTERS[key]]), f"{prefix}-{key}", **width)
        for key in ("tier", "category", "affiliation", "authority")]
    cols.append(labelled("filter.pilot", dropdown(
        id=f"{prefix}-pilot", clearable=False, searchable=False, value=values.get("pilot", ""),
        options=[{"label": t("filter.all"), "value": ""}, {"label": t("filter.pilot_only"), "value": "1"},
                 {"label": t("filter.pilot_none"), "value": "0"}]), f"{prefix}-pilot", **width))
    cols.append(labelled("filter.region", region_dropdown(f"{prefix}-region", region), f"{prefix}-region", **width))
    return cols


def download_buttons(prefix: str) -> list[Any]:
    """CSV and XLSX buttons (``{prefix}-csv``, ``{prefix}-xlsx``) and their ``dcc.Download``."""
    return [
        dbc.Button(t("export.csv"), id=f"{prefix}-csv", size="sm", color="secondary", outline=True,
                   className="opsmon-download"),
        dbc.Button(t("export.xlsx"), id=f"{prefix}-xlsx", size="sm", color="primary", outline=True,
                   className="opsmon-download"),
        dcc.Download(id=f"{prefix}-download"),
    ]


# ----------------------------------------------------------------------------------------- grid
_GRID_LOCALE_KEYS = (
    "contains", "notContains", "equals", "notEqual", "startsWith", "endsWith", "blank", "notBlank",
    "lessThan", "greaterThan", "lessThanOrEqual", "greaterThanOrEqual", "inRange", "andCondition",
    "orCondition", "filterOoo", "searchOoo", "selectAll", "applyFilter", "resetFilter", "clearFilter",
    "cancelFilter", "loadingOoo", "more", "firstPage", "previousPage", "nextPage", "lastPage", "pageSizeSelectorLabel",
    "pinColumn", "pinLeft", "pinRight", "noPin", "autosizeThiscolumn", "autosizeAllColumns", "resetColumns",
    "sortAscending", "sortDescending", "sortUnSort", "columns", "filters", "ariaFilterInput",
)


def grid_locale() -> dict[str, str]:
    """AG Grid's ``localeText`` (read once, when the grid is created); English is the grid's own."""
    if current_language() == "en":
        return {}
    out = {key: t(f"aggrid.{key}") for key in _GRID_LOCALE_KEYS}
    out.update({"page": t("grid.page"), "of": t("grid.of"), "to": t("grid.to"), "noRowsToShow": t("grid.no_rows")})
    return out


_DEFAULT_COLUMN = {"sortable": True, "resizable": True, "filter": True, "minWidth": 80, "wrapHeaderText": True,
                   "autoHeaderHeight": True}


def grid(component_id: str, rows: list[dict], columns: list[dict], *, height: int | None = 460,
         quick_filter: str | None = None, page_size: int | None = None, filters: bool = True,
         **kwargs: Any) -> dag.AgGrid:
    """An AG Grid with the app's defaults: sortable, filterable, resizable columns, Chinese locale."""
    options: dict[str, Any] = {"localeText": grid_locale(), "enableCellTextSelection": True,
                               "ensureDomOrder": True, "suppressDragLeaveHidesColumns": True,
                               "animateRows": False, "tooltipShowDelay": 300}
    if quick_filter:
        options["quickFilterText"] = quick_filter
    if page_size:
        options.update({"pagination": True, "paginationPageSize": page_size,
                        "paginationPageSizeSelector": False})
    if height is None:
        options["domLayout"] = "autoHeight"
    options.update(kwargs.pop("dashGridOptions", {}))
    return dag.AgGrid(
        id=component_id, rowData=rows, columnDefs=columns,
        defaultColDef={**_DEFAULT_COLUMN, "filter": filters},
        dashGridOptions=options, columnSize="responsiveSizeToFit",
        style={"height": f"{height}px"} if height else None, className="opsmon-grid",
        **kwargs,
    )


def paged_grid(component_id: str, columns: list[dict], *, row_count: int, row_id: str, height: int = 560,
               row_height: int | None = None) -> dag.AgGrid:
    """:func:`grid` for a table too long to send whole: empty, it asks a page callback for its rows
    (:mod:`opsmon.dashboard.paged_grid`); *row_id*: the field naming a row."""
    return paged.grid(component_id, columns, row_count=row_count, height=height, row_id=row_id,
                      locale=grid_locale(), default_col=_DEFAULT_COLUMN, row_height=row_height)


def column(field: str, header_key: str, **extra: Any) -> dict:
    """A text column headed by the label *header_key*."""
    return {"field": field, "headerName": t(header_key), **extra}


def number_column(field: str, header: str, fmt: str, **extra: Any) -> dict:
    """A numeric column shown with d3 *fmt*, '—' when missing; sorts and filters as numbers."""
    return {"field": field, "headerName": header, "type": "numericColumn",
            "valueFormatter": {"function": f"params.value == null ? '—' : d3.format('{fmt}')(params.value)"},
            **extra}


def approx_number_column(field: str, header: str, fmt: str, **extra: Any) -> dict:
    """:func:`number_column` whose cell says 近似 after the number where the row's ``{field}__approx`` is true."""
    mark = t("approx.badge").replace("'", "")
    return number_column(field, header, fmt, **extra) | {"valueFormatter": {"function": (
        f"params.value == null ? '—' : d3.format('{fmt}')(params.value) + "
        f"(params.data['{field}__approx'] ? ' {mark}' : '')")}}


def link_column(field: str, header: str, href_field: str = "href", **extra: Any) -> dict:
    """A text column whose cells link (in-app navigation) to the row's *href_field*."""
    return {"field": field, "headerName": header, "cellRenderer": "OpsmonLink",
            "cellRendererParams": {"hrefField": href_field}, "filter": "agTextColumnFilter", **extra}


def pill_column(field: str, header_key: str, class_field: str, **extra: Any) -> dict:
    """A column of coloured pills (a status), each coloured by the row's *class_field*."""
    return {"field": field, "headerName": t(header_key), "cellRenderer": "OpsmonPill",
            "cellRendererParams": {"classField": class_field}, **extra}


def risk_column(field: str, **extra: Any) -> dict:
    """A column of risk levels (红/橙/黄), each coloured by the row's ``level``."""
    return {"field": field, "headerName": t("col.level"), "cellRenderer": "OpsmonRisk",
            "cellRendererParams": {"levelField": "level"}, **extra}


def approx_column(**extra: Any) -> dict:
    """The grid's 近似 column (``approx_text``; its tooltip ``approx_tip``): see :func:`with_approx`."""
    return {"field": "approx_text", "headerName": t("approx.column"), "tooltipField": "approx_tip",
            "headerTooltip": t("approx.column_tip"), "cellClass": "opsmon-approx-cell", "minWidth": 90,
            "maxWidth": 110, **extra}


def with_approx(frame: pd.DataFrame, ind: Any, hospital: bool = False) -> pd.DataFrame:
    """*frame* with ``approx_text`` ('近似' or '') and ``approx_tip`` (why) from its ``approx`` column."""
    flags = frame["approx"] if "approx" in frame else pd.Series(False, index=frame.index)
    note = approx_text(ind, hospital)
    return frame.assign(approx_text=[approx_cell(f) for f in flags],
                        approx_tip=[note if is_approx(f) else "" for f in flags])


def explanation_column(**extra: Any) -> dict:
    """The grid column of a risk's explanation (``explanation``): wrapped over as many lines as it needs."""
    return {"field": "explanation", "headerName": t("col.explanation"), "wrapText": True, "autoHeight": True,
            "tooltipField": "explanation", "cellClass": "opsmon-explanation", "minWidth": 300, "flex": 2,
            # Set through the DOM by the grid (not a style attribute in the markup): the CSP allows it.
            "cellStyle": {"lineHeight": "1.45", "paddingTop": "6px", "paddingBottom": "6px",
                          "wordBreak": "break-all"}, **extra}


def hospital_href(code: str, period: str | None = None) -> str:
    """The link to a hospital's profile (in the request's language)."""
    return url_query.href(f"/hospital/{code}", period=period)


def hospital_hrefs(codes: pd.Series, period: str | None = None) -> pd.Series:
    """:func:`hospital_href` of each of *codes*, the query string built once (a national table has 12 000;
    hospital codes are letters and digits, safe in a path as they are)."""
    return "/hospital/" + codes.astype(str) + url_query.href("", period=period)


def quick_search(component_id: str) -> dbc.Input:
    return dbc.Input(id=component_id, type="search", size="sm", placeholder=t("grid.search"),
                     className="opsmon-search", debounce=True)
