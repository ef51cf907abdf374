"""风险处置 Risk disposal: every orange and red risk assigned, answered, reviewed and closed (:mod:`opsmon.disposal`).

URL: ``/disposal?state=assigned,returned&rule=deficit_12m&risk_level=red&region=<adcode>&overdue=1&id=<n>&lang=en``.

The list (overdue first) of the items the signed-in user may see, filtered by status (a state,
or 已逾期), rule, level, region and "overdue only"; a click on a row opens the item (``id``):
its facts, its history (who, when, what, the files a hospital sent) and the forms of the steps
the user may take on it now (:func:`data.disposal_actions`). A step is one form: checked for its
required fields, confirmed in a dialog, then taken by :func:`data.dispose` — which checks scope,
role, state and fields again, in one transaction with its audit entry — and its outcome shown
(the library's message when it is refused). The 督办清单 download is the filtered list as XLSX.

Open to every role: supervisors and administrators act, hospitals answer their own items,
leaders and analysts look (every role has ``disposal`` or ``view_regions``; the test says so).
Every read is scoped to the user (:mod:`data`); what a form may do is the server's decision.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, MATCH, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from opsmon import periods
from opsmon.dashboard import auth, context, data, exports, url_query
from opsmon.dashboard import components as c
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.page import REGION, Control, Page, choices
from opsmon.dashboard.strings import STRINGS, current_language, t
from opsmon.disposal import ACTIONS, REQUESTS, STATES, VERDICTS, DisposalError
from opsmon.disposal.attachments import EXTENSIONS, MAX_BYTES, MAX_FILES
from opsmon.disposal.workflow import MAX_NOTE
from opsmon.indicators.risk_rules import BY_ID as RULES

STATUSES = (*STATES, "overdue")  # the status filter: a state, or 已逾期 (assigned or returned past the deadline)
# A record's level: orange and red risks get one by themselves, a yellow one when a supervisor takes it up.
LEVELS = ("red", "orange", "yellow")
PILL = c.DISPOSAL_PILL
# The fields each step's form sends: the action's own (only these reach opsmon.disposal.act, whatever the
# browser posts — act refuses any other).
FORM_FIELDS: dict[str, tuple[str, ...]] = {a.id: (*a.required, *a.optional) for a in ACTIONS.values()}
FIELD_ORDER = ("request", "due_on", "cause", "measures", "expected_on", "verdict")  # an event's fields, shown
FIELDS_ALL = {"type": "disposal-field", "action": ALL, "name": ALL}
UPLOAD_ALL = {"type": "disposal-upload", "action": ALL}
MAX_ID = 2**63  # risk_disposals.disposal_id is a bigint


def item_id(value: Any) -> int | None:
    """*value* (from the URL or the browser) as an item id, or None when it cannot be one."""
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and 0 < int(text) < MAX_ID else None


def _id_control(query: Any) -> str | None:
    found = item_id(url_query.first(query.get("id")))
    return str(found) if found else None


# Every role may open the page (each has disposal or view_regions: see the module's docstring).
PAGE = Page(__name__, path="/disposal", name_key="nav.disposal", permission=None, order=35, controls={
    "state": choices("state", STATUSES),
    "rule": Control(lambda q: url_query.choice(q.get("rule"), RULES)),
    "risk_level": Control(lambda q: url_query.choice(q.get("risk_level"), LEVELS), id="level"),
    "region": REGION,
    "overdue": Control(lambda q: bool(url_query.boolean(q.get("overdue"))), omit=False),
    "id": Control(_id_control),
})
search_options = PAGE.search_options("disposal-region", c.region_choices)
FILTER_KEYS = ("state", "rule", "risk_level", "region", "overdue")


# ----------------------------------------------------------------------------------------- labels
status_label = c.disposal_status_label


def rule_label(rule: str) -> str:
    """A rule's name in the request's language (its id when unknown)."""
    return c.label(RULES[rule]) if rule in RULES else rule


def value_label(name: str, value: Any) -> str:
    """A field's value as people read it: a request or verdict in the request's language, a date as is."""
    key = f"disposal.{name}.{value}"
    return t(key) if name in ("request", "verdict") and key in STRINGS else str(value)


def _colon() -> str:
    return "：" if current_language() == "zh" else ": "


def _day(value: Any) -> date | None:
    """A date cell (a date, a Timestamp, None or NaT) as a date."""
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return value.date() if isinstance(value, pd.Timestamp) else value


def days_overdue(due_on: Any, overdue: Any, today: date) -> int | None:
    """Days since the deadline of an overdue item (None when it is not overdue)."""
    day = _day(due_on)
    return (today - day).days if bool(overdue) and day is not None else None


# ----------------------------------------------------------------------------------------- the list
def checked_filters(values: dict[str, Any]) -> dict[str, Any]:
    """The filters' *values* as the controls make them — whatever a crafted callback sends: unknown values dropped."""
    states = values.get("state")
    region = values.get("region")
    return {"state": [s for s in states if s in STATUSES] if isinstance(states, list) else [],
            "rule": values.get("rule") if values.get("rule") in RULES else None,
            "risk_level": values.get("risk_level") if values.get("risk_level") in LEVELS else None,
            "region": region if isinstance(region, str) and region.isdigit() else None,
            "overdue": bool(values.get("overdue"))}


def items(engine, values: dict[str, Any]) -> pd.DataFrame:
    """The items the signed-in user may see for the filters *values*, overdue first (``list_disposals``'
    order), with the display columns of the grid and the download."""
    values = checked_filters(values)
    frame = data.list_disposals(engine, rule=values["rule"], level=values["risk_level"], region=values["region"],
                                overdue=True if values["overdue"] else None)
    statuses = values["state"]
    if statuses:
        frame = frame[frame["state"].isin(statuses) | (frame["overdue"].astype(bool) & ("overdue" in statuses))]
    today = periods.today()
    regions = c.regions().set_index("adcode")
    return frame.assign(
        status_text=[status_label(s) for s in frame["status"]],
        pill=[PILL.get(s, "default") for s in frame["status"]],
        rule_text=[rule_label(r) for r in frame["rule"]],
        level_text=[c.risk_level_label(x) for x in frame["level"]],
        due_text=[d.isoformat() if d else "" for d in map(_day, frame["due_on"])],
        days_overdue=[days_overdue(d, o, today) for d, o in zip(frame["due_on"], frame["overdue"])],
        request_text=[value_label("request", r) if isinstance(r, str) else "" for r in frame["request"]],
        escalated_text=[t("common.yes") if e else "" for e in frame["escalated"]],
        county=[regions["name"].get(a, "") for a in frame["adcode"]],
        prefecture=[regions["name"].get(regions["geo_parent_adcode"].get(a), "") for a in frame["adcode"]],
        href=c.hospital_hrefs(frame["hospital_code"]),
        row_id=[f"d{i}" for i in frame["disposal_id"]],
    ).reset_index(drop=True)


GRID_FIELDS = ["disposal_id", "row_id", "status", "status_text", "pill", "hospital_name", "href", "rule_text",
               "level", "level_text", "due_text", "days_overdue", "request_text", "escalated_text", "prefecture",
               "county", "first_period"]


def rows(frame: pd.DataFrame) -> list[dict]:
    """The grid's rows (JSON-safe: numbers as numbers, missing as None)."""
    out = frame[GRID_FIELDS].astype(object).where(frame[GRID_FIELDS].notna(), None)
    return out.to_dict("records")


def columns() -> list[dict]:
    return [
        c.pill_column("status_text", "col.disposal_status", "pill", minWidth=90, maxWidth=110, pinned="left"),
        c.link_column("hospital_name", t("col.hospital"), href_field="href", pinned="left", minWidth=170),
        c.column("rule_text", "col.rule", minWidth=120, wrapText=True),
        c.risk_column("level_text", minWidth=70, maxWidth=90),
        c.column("due_text", "col.due_on", minWidth=100),
        c.number_column("days_overdue", t("col.days_overdue"), ",.0f", minWidth=80),
        c.column("request_text", "col.request", minWidth=90),
        c.column("escalated_text", "col.escalated", minWidth=80),
        c.column("prefecture", "col.prefecture", minWidth=90),
        c.column("county", "col.county", minWidth=90),
        c.column("first_period", "col.first_period", minWidth=90),
    ]


def item_grid(frame: pd.DataFrame, selected: str | None = None) -> Any:
    """The list: one row selectable by a click (what opens the item)."""
    extra = {"selectedRows": {"ids": [f"d{selected}"]}} if selected else {}
    # As tall as its rows (a county has a handful), a page at a time: overdue ones come first.
    return c.grid("disposal-grid", rows(frame), columns(), height=None, page_size=15, getRowId="params.data.row_id",
                  dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                    "enableClickSelection": True}}, **extra)


# ----------------------------------------------------------------------------------------- layout
@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    engine = context.reader()
    user = auth.require_user()
    frame = items(engine, v)
    width = {"xs": 6, "md": 4, "xl": 2}
    controls = dbc.Row([
        c.labelled("disposal.filter.state", c.multi_dropdown("disposal-state", v["state"], [
            {"label": status_label(s), "value": s} for s in STATUSES]), "disposal-state", xs=12, md=4, xl=3),
        c.labelled("col.rule", c.dropdown(id="disposal-rule", value=v["rule"], placeholder=t("filter.all"), options=[
            {"label": c.label(r), "value": r.id} for r in RULES.values()]), "disposal-rule", xs=12, md=8, xl=3),
        c.labelled("risk.level", c.dropdown(id="disposal-level", value=v["risk_level"], placeholder=t("filter.all"),
                                            options=[{"label": c.risk_level_label(x), "value": x} for x in LEVELS]),
                   "disposal-level", **width),
        # A hospital user has no region to pick (the control stays, hidden, for the URL's sake).
        c.labelled("filter.region", c.region_dropdown("disposal-region", v["region"]), "disposal-region",
                   className="d-none" if user.hospital_code else None, **width),
        dbc.Col(dbc.Switch(id="disposal-overdue", label=t("disposal.filter.overdue"), value=v["overdue"]),
                className="d-flex align-items-end pb-2", **width),
    ], className="g-2")
    download = [dbc.Button(t("disposal.xlsx"), id="disposal-xlsx", size="sm", color="primary", outline=True,
                           className="opsmon-download"), dcc.Download(id="disposal-download")] \
        if user.permissions.export else []
    facts, actions = detail(v["id"])
    return PAGE.frame(
        c.page_header(t("disposal.title"), t("disposal.subtitle")),
        html.Div(controls, className="opsmon-filters mb-3"),
        dcc.Input(id="disposal-id", type="hidden", value=v["id"]),
        c.section(html.Span(t("disposal.list_n").format(n=len(frame)), id="disposal-list-title"),
                  html.Div(item_grid(frame, v["id"]), id="disposal-list"), actions=download, class_name="mb-3"),
        dbc.Row([
            dbc.Col(c.section(t("disposal.detail"), c.loading(html.Div(facts, id="disposal-detail"))), lg=7),
            dbc.Col(c.section(t("disposal.actions"), [html.Div(id="disposal-message"),
                                                       html.Div(actions, id="disposal-actions")]), lg=5),
        ], className="g-3"),
        _confirm_dialog(),
        dcc.Store(id="disposal-pending"),
        dcc.Store(id="disposal-refresh", data=0),
        dcc.Download(id="disposal-file"),
    )


def _confirm_dialog() -> dbc.Modal:
    """The dialog every step goes through before it is taken."""
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(t("disposal.confirm_title"))),
        dbc.ModalBody(id="disposal-confirm-text"),
        dbc.ModalFooter([dbc.Button(t("disposal.cancel"), id="disposal-cancel", color="secondary", outline=True),
                         dbc.Button(t("disposal.confirm"), id="disposal-confirm", color="primary")]),
    ], id="disposal-confirm-modal", is_open=False, centered=True)


# ----------------------------------------------------------------------------------------- one item
def find_item(engine, value: Any) -> dict | None:
    """The item *value* names, as a dict of its :func:`data.list_disposals` row, if the user may see it."""
    found = item_id(value)
    frame = data.list_disposals(engine, disposal_id=found) if found else None
    return None if frame is None or frame.empty else frame.iloc[0].to_dict()


def detail(value: Any) -> tuple[Any, Any]:
    """(The item's facts and history, the forms of the steps the user may take) for the item *value*."""
    if item_id(value) is None:
        return html.Div(t("disposal.pick"), className="opsmon-empty-small", id="disposal-pick"), None
    engine = context.reader()
    item = find_item(engine, value)
    if item is None:
        return dbc.Alert(t("disposal.not_found"), color="warning", id="disposal-not-found"), None
    events = data.disposal_timeline(engine, int(item["disposal_id"]))
    return html.Div([facts(engine, item), html.H6(t("disposal.timeline"), className="mt-3"),
                     timeline(events)]), forms(item, data.disposal_actions(engine, item))


def _explanation(engine, item: dict) -> str:
    """Why the item's risk fired: the values and the threshold of its open episode (else its latest)."""
    episodes = data.risk_register(engine, hospital=item["hospital_code"])
    episodes = episodes[episodes["rule"] == item["rule"]]
    if episodes.empty:
        return ""
    episode = episodes.sort_values("first_period").iloc[-1]
    return c.risk_explanation(item["rule"], episode["level"], episode["detail"])


def facts(engine, item: dict) -> html.Div:
    """The item's facts: status and level (escalated, resolved in the data), hospital, rule and why it fired, the
    request, the deadline and how late, the verdict."""
    status = item["status"]
    late = days_overdue(item["due_on"], item["overdue"], periods.today())
    due = _day(item["due_on"])
    badges = [html.Span(status_label(status), className=f"opsmon-pill opsmon-pill-{PILL.get(status, 'default')} me-2",
                        id="disposal-status"),
              html.Span(c.risk_level_label(item["level"]), className=f"opsmon-risk opsmon-risk-{item['level']} me-2")]
    if item["escalated"]:
        badges.append(dbc.Badge(t("disposal.escalated_badge"), color="danger", className="me-2"))
    if item["data_resolved"]:
        badges.append(dbc.Badge(t("disposal.data_resolved"), color="success", className="me-2"))
    entries = [
        ("col.hospital", dcc.Link(item["hospital_name"], href=c.hospital_href(item["hospital_code"]))),
        ("col.rule", rule_label(item["rule"])),
        ("col.explanation", _explanation(engine, item) or "—"),
        ("col.first_period", item["first_period"]),
        ("col.request", value_label("request", item["request"]) if isinstance(item["request"], str) else "—"),
        ("col.due_on", due.isoformat() if due else "—"),
        ("col.days_overdue", str(late) if late is not None else "—"),
        ("disposal.field.verdict", value_label("verdict", item["verdict"]) if isinstance(item["verdict"], str)
         else "—"),
    ]
    listing = [part for key, value in entries for part in (
        html.Dt(t(key), className="col-4 text-muted fw-normal"), html.Dd(value, className="col-8 mb-1"))]
    return html.Div([html.Div(badges, className="mb-2"), html.Dl(listing, className="row mb-0 opsmon-facts")],
                    id="disposal-facts")


def timeline(events: pd.DataFrame | None) -> Any:
    """The item's events, oldest first: when, who, what (from → to), the note, the fields, the files."""
    if events is None or events.empty:
        return html.Div(t("disposal.no_events"), className="opsmon-empty-small")
    return html.Ol([_event(e) for e in events.to_dict("records")], id="disposal-timeline",
                   className="list-unstyled mb-0")


def _event(event: dict) -> html.Li:
    who = event["username"] if isinstance(event["username"], str) else t("disposal.system")
    change = f"{status_label(event['from_state'])} → {status_label(event['to_state'])}" \
        if isinstance(event["from_state"], str) and event["from_state"] != event["to_state"] else \
        status_label(event["to_state"])
    fields = event["fields"] if isinstance(event["fields"], dict) else {}
    lines = [html.Div([html.Span(t(f"disposal.field.{k}") + _colon(), className="text-muted"),
                       value_label(k, fields[k])], style={"whiteSpace": "pre-wrap"})
             for k in FIELD_ORDER if fields.get(k) not in (None, "")]
    note = [html.Div([html.Span(t("disposal.field.note") + _colon(), className="text-muted"), event["note"]],
                     style={"whiteSpace": "pre-wrap"})] if isinstance(event["note"], str) and event["note"] else []
    files = [dbc.Button(f"{a['file_name']} ({max(1, round(a['size_bytes'] / 1024))} KB)",
                        id={"type": "disposal-attachment", "id": int(a["attachment_id"])}, color="link", size="sm",
                        className="p-0 me-3 disposal-attachment")
             for a in (event["attachments"] if isinstance(event["attachments"], list) else [])]
    head = html.Div([html.Strong(t(f"disposal.action.{event['action']}"), className="me-2"),
                     html.Span(change, className="me-2"),
                     html.Span(f"{who} · {timestamp(event['at'])}", className="text-muted small")])
    return html.Li([head, *lines, *note,
                    html.Div([html.Span(t("disposal.field.files") + _colon(), className="text-muted"), *files])
                    if files else None],
                   className="border-start border-3 ps-2 mb-2", id=f"disposal-event-{int(event['event_id'])}")


# ----------------------------------------------------------------------------------------- forms
def field_id(action: str, name: str) -> dict:
    return {"type": "disposal-field", "action": action, "name": name}


def _labelled(action: str, name: str, control: Any, optional: bool = False, hint: str | None = None) -> html.Div:
    label = t(f"disposal.field.{name}") + (t("disposal.optional") if optional else "")
    return html.Div([dbc.Label(label, className="mb-1"), control,
                     dbc.FormText(hint) if hint else None], className=f"mb-2 disposal-{action}-{name}")


def _date(action: str, name: str) -> dbc.Input:
    return dbc.Input(id=field_id(action, name), type="date", min=periods.today().isoformat())


def _text(action: str, name: str) -> dbc.Textarea:
    return dbc.Textarea(id=field_id(action, name), rows=3, maxLength=MAX_NOTE)


def _select(action: str, name: str, values: tuple[str, ...]) -> dbc.Select:
    return dbc.Select(id=field_id(action, name), placeholder=t("disposal.choose"),
                      options=[{"label": value_label(name, v), "value": v} for v in values])


def _upload(action: str) -> html.Div:
    """The respond form's attachments: several files at once, checked again on the server by content."""
    limit = f"{MAX_BYTES // (1024 * 1024)} MB"
    accept = ",".join(ext for exts in EXTENSIONS.values() for ext in exts)
    return html.Div([
        dbc.Label(t("disposal.field.files") + t("disposal.optional"), className="mb-1"),
        dcc.Upload(id={"type": "disposal-upload", "action": action}, multiple=True, max_size=MAX_BYTES,
                   accept=accept, children=html.Div([
                       html.Div(t("disposal.upload"), className="fw-semibold"),
                       html.Div(t("disposal.upload_hint").format(limit=limit, n=MAX_FILES),
                                className="text-muted small")]),
                   style={"border": "2px dashed #9aa7b5", "borderRadius": "8px", "padding": "0.75rem",
                          "textAlign": "center", "background": "#fff", "cursor": "pointer"}),
        html.Div(id={"type": "disposal-upload-names", "action": action}, className="small mt-1"),
    ], className="mb-2")


def _form_fields(action: str, item: dict) -> list[Any]:
    """The controls of the form of *action* (their ids: :func:`field_id`)."""
    if action == "assign":
        return [_labelled(action, "due_on", _date(action, "due_on")),
                _labelled(action, "request", _select(action, "request", REQUESTS)),
                _labelled(action, "note", _text(action, "note"))]
    if action == "respond":
        return [_labelled(action, "cause", _text(action, "cause")),
                _labelled(action, "measures", _text(action, "measures")),
                _labelled(action, "expected_on", _date(action, "expected_on"), optional=True),
                _labelled(action, "note", _text(action, "note"), optional=True),
                _upload(action)]
    if action == "return":
        return [_labelled(action, "note", _text(action, "note")),
                _labelled(action, "due_on", _date(action, "due_on"), optional=True, hint=t("disposal.return_hint"))]
    if action == "close":
        hint = None if item["state"] == "responded" else t("disposal.close_hint")
        return [_labelled(action, "verdict", _select(action, "verdict", VERDICTS), hint=hint),
                _labelled(action, "note", _text(action, "note"), optional=True)]
    return [_labelled(action, "note", _text(action, "note"))]  # reopen, escalate


def forms(item: dict, actions: list[str]) -> Any:
    """One card per step the user may take on *item* now (ids ``disposal-form-{action}``)."""
    if not actions:
        user = auth.current_user()
        key = "disposal.read_only" if user is not None and not user.permissions.disposal else "disposal.no_actions"
        return html.Div(t(key), className="opsmon-empty-small", id="disposal-no-actions")
    color = {"return": "warning", "reopen": "secondary", "escalate": "danger"}
    return [dbc.Card(dbc.CardBody([
        html.H6(t(f"disposal.action.{action}")),
        *_form_fields(action, item),
        dbc.Button(t(f"disposal.action.{action}"), id={"type": "disposal-submit", "action": action},
                   color=color.get(action, "primary"), className=f"disposal-submit-{action}"),
    ]), id=f"disposal-form-{action}", className="mb-2") for action in actions]


def form_values(action: str, ids: list[dict] | None, values: list[Any] | None) -> dict[str, str]:
    """The filled-in fields of *action*'s form from the pattern-matched ids and values the browser sent —
    only the fields that form has (:data:`FORM_FIELDS`), only text."""
    allowed = FORM_FIELDS.get(action, ())
    out = {}
    for key, value in zip(ids or [], values or []):
        if isinstance(key, dict) and key.get("action") == action and key.get("name") in allowed \
                and isinstance(value, str) and value.strip():
            out[key["name"]] = value.strip()
    return out


def uploaded_files(contents: list[Any] | None, names: list[Any] | None) -> list[tuple[str, bytes]] | str:
    """The respond form's files as (name, bytes) pairs, or a message when one arrived damaged.

    Only decoded here; what they are and how large is :mod:`opsmon.disposal.attachments`' check. Beyond
    :data:`MAX_FILES` + 1 nothing is decoded: one too many is enough for the check to refuse them.
    """
    found = [(n, d) for cs, ns in zip(contents or [], names or []) if cs and ns
             for d, n in zip(cs if isinstance(cs, list) else [cs], ns if isinstance(ns, list) else [ns])]
    out = []
    for name, data_url in found[:MAX_FILES + 1]:
        _, _, encoded = str(data_url).partition(",")
        try:
            # A file over the limit is refused by the check: decode no more than one byte past it.
            content = base64.b64decode(encoded[:(MAX_BYTES // 3 + 1) * 4 + 4], validate=True)
        except (binascii.Error, ValueError):
            return t("disposal.upload_unreadable").format(file=name)
        out.append((str(name), content))
    return out


def _alert(text: str, color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, id="disposal-alert", dismissable=True)


def _missing(action: str, fields: dict[str, str]) -> list[str]:
    """The required fields of *action* left empty."""
    return [name for name in ACTIONS[action].required if name not in fields]


# ----------------------------------------------------------------------------------------- callbacks
@PAGE.callback(Output("disposal-grid", "rowData"), Output("disposal-list-title", "children"),
               *[Input(PAGE.control_id(k), "value") for k in FILTER_KEYS], Input("disposal-refresh", "data"),
               prevent_initial_call=True)
def update_list(state, rule, level, region, overdue, _refresh, view):
    """The list for the filters (and again after a step is taken)."""
    frame = items(context.reader(), {"state": state, "rule": rule, "risk_level": level, "region": region,
                                     "overdue": overdue})
    return rows(frame), t("disposal.list_n").format(n=len(frame))


@PAGE.callback(Output("disposal-id", "value", allow_duplicate=True), Input("disposal-grid", "selectedRows"),
               State("disposal-id", "value"), prevent_initial_call=True)
def select(selected: list[dict] | None, current: str | None, view):
    """A click on a row opens its item (its id goes into the URL)."""
    chosen = item_id(selected[0].get("disposal_id")) if selected and isinstance(selected[0], dict) else None
    if chosen is None or str(chosen) == current:
        raise PreventUpdate
    return str(chosen)


@PAGE.callback(Output("disposal-detail", "children"), Output("disposal-actions", "children"),
               Input("disposal-id", "value"), Input("disposal-refresh", "data"), prevent_initial_call=True)
def update_detail(value: str | None, _refresh, view):
    """The item's facts, history and forms (again after a step is taken)."""
    return detail(value)


@PAGE.callback(Output("disposal-message", "children", allow_duplicate=True), Input("disposal-id", "value"),
               prevent_initial_call=True)
def clear_message(_value, view) -> None:
    """Another item: the outcome of a step on the previous one goes."""


@PAGE.callback(Output({"type": "disposal-upload-names", "action": MATCH}, "children"),
               Input({"type": "disposal-upload", "action": MATCH}, "filename"), prevent_initial_call=True)
def show_chosen(names, view):
    """The names of the files chosen for an answer."""
    names = names if isinstance(names, list) else [names] if names else []
    return t("disposal.upload_chosen").format(files="、".join(str(n) for n in names)) if names else None


@PAGE.callback(Output("disposal-confirm-modal", "is_open"), Output("disposal-confirm-text", "children"),
               Output("disposal-pending", "data"), Output("disposal-message", "children", allow_duplicate=True),
               Input({"type": "disposal-submit", "action": ALL}, "n_clicks"), Input("disposal-cancel", "n_clicks"),
               State("disposal-id", "value"), State(FIELDS_ALL, "id"), State(FIELDS_ALL, "value"),
               prevent_initial_call=True)
def ask(_submits, _cancel, value, field_ids, field_values, view):
    """A form's button: its required fields checked, then the confirmation dialog (Cancel closes it)."""
    trigger = ctx.triggered_id
    if trigger == "disposal-cancel":
        return False, no_update, None, no_update
    # A form appearing (a new item) fires this too, with no click: nothing to do.
    if not isinstance(trigger, dict) or not ctx.triggered[0].get("value") or trigger.get("action") not in ACTIONS:
        raise PreventUpdate
    action = trigger["action"]
    item = find_item(context.reader(), value)
    if item is None:
        return False, no_update, None, _alert(t("disposal.select_first"), "warning")
    missing = _missing(action, form_values(action, field_ids, field_values))
    if missing:
        names = ("、" if current_language() == "zh" else ", ").join(t(f"disposal.field.{m}") for m in missing)
        return False, no_update, None, _alert(t("disposal.missing").format(fields=names), "danger")
    text = t("disposal.confirm_text").format(hospital=item["hospital_name"], rule=rule_label(item["rule"]),
                                             action=t(f"disposal.action.{action}"))
    return True, text, {"action": action, "id": str(item["disposal_id"])}, None


@PAGE.callback(Output("disposal-message", "children"), Output("disposal-confirm-modal", "is_open", allow_duplicate=True),
               Output("disposal-refresh", "data"), Input("disposal-confirm", "n_clicks"),
               State("disposal-pending", "data"), State(FIELDS_ALL, "id"), State(FIELDS_ALL, "value"),
               State(UPLOAD_ALL, "contents"), State(UPLOAD_ALL, "filename"), State("disposal-refresh", "data"),
               prevent_initial_call=True)
def confirm(_n, pending, field_ids, field_values, contents, names, refresh, view):
    """Take the confirmed step (:func:`data.dispose`) and say how it went: done, or the library's reason."""
    if not isinstance(pending, dict) or pending.get("action") not in ACTIONS or item_id(pending.get("id")) is None:
        raise PreventUpdate
    action, disposal_id = pending["action"], item_id(pending["id"])
    files = uploaded_files(contents, names) if action == "respond" else []
    if isinstance(files, str):
        return _alert(files, "danger"), False, no_update
    engine = context.writer()
    try:
        data.dispose(engine, disposal_id, action, files=files, **form_values(action, field_ids, field_values))
    except DisposalError as e:  # NotFound and Forbidden too: nothing was changed
        return _alert(t("disposal.failed").format(message=e.message), "danger"), False, no_update
    item = find_item(engine, disposal_id)
    text = t("disposal.done").format(action=t(f"disposal.action.{action}"), hospital=item["hospital_name"],
                                     rule=rule_label(item["rule"]), status=status_label(item["status"]))
    return _alert(text, "success"), False, (refresh or 0) + 1


@PAGE.callback(Output("disposal-file", "data"), Input({"type": "disposal-attachment", "id": ALL}, "n_clicks"),
               prevent_initial_call=True)
def send_attachment(_clicks, view):
    """A file of the history, if its item is the user's to see; the download is audited."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    attachment_id = item_id(trigger.get("id"))
    found = data.disposal_attachment(context.reader(), attachment_id) if attachment_id else None
    if found is None:
        raise PreventUpdate
    data.record_export(found["file_name"], 1, attachment=attachment_id)
    return dcc.send_bytes(found["content"], found["file_name"])


# ----------------------------------------------------------------------------------------- 督办清单
EXPORT_COLUMNS = [("hospital_name", "col.hospital", None), ("hospital_code", "col.hospital_code", "@"),
                  ("prefecture", "col.prefecture", None), ("county", "col.county", None),
                  ("rule_text", "col.rule", None), ("level_text", "col.level", None),
                  ("status_text", "col.disposal_status", None), ("due_text", "col.due_on", None),
                  ("days_overdue", "col.days_overdue", "0"), ("request_text", "col.request", None)]


def filters_text(values: dict[str, Any]) -> str:
    """'处置状态=已交办、已退回；风险规则=…' — the list's filters, for the download's subtitle."""
    parts = [f"{t('disposal.filter.state')}={'、'.join(status_label(s) for s in values['state'])}"
             if values.get("state") else None,
             f"{t('col.rule')}={rule_label(values['rule'])}" if values.get("rule") else None,
             f"{t('risk.level')}={c.risk_level_label(values['risk_level'])}" if values.get("risk_level") else None,
             f"{t('filter.region')}={c.region_name(values['region'])}" if values.get("region") else None,
             t("disposal.filter.overdue") if values.get("overdue") else None]
    return t("filters.used").format(filters="；".join(p for p in parts if p) or t("filters.none"))


def supervision_list(values: dict[str, Any]) -> tuple[bytes, str, int]:
    """The filtered list as XLSX (through :mod:`opsmon.spreadsheet`, text neutralised): bytes, file name, rows."""
    frame = items(context.reader(), values)
    region = c.region_name(values.get("region") or c.home_region()) or c.region_name(c.root_region())
    now = periods.now()
    frame = frame.assign(days_overdue=frame["days_overdue"].astype("Float64"))
    columns_ = [(col, t(key), fmt) for col, key, fmt in EXPORT_COLUMNS]
    content = exports.table(frame, columns_, "xlsx", title=t("disposal.export_title").format(region=region),
                            subtitle=filters_text(values), as_of=now)
    return content, exports.file_name(t("disposal.file"), region, as_of=now, ext="xlsx"), len(frame)


@PAGE.callback(Output("disposal-download", "data"), Input("disposal-xlsx", "n_clicks"),
               *[State(PAGE.control_id(k), "value") for k in FILTER_KEYS], prevent_initial_call=True)
def download(_n, state, rule, level, region, overdue, view):
    """The 督办清单 of the filtered list — for a role that may export; audited with its filters."""
    data.check_export()
    values = checked_filters({"state": state, "rule": rule, "risk_level": level, "region": region,
                              "overdue": overdue})
    content, name, count = supervision_list(values)
    data.record_export(name, count, **{k: v for k, v in values.items() if v})
    return dcc.send_bytes(content, name)
