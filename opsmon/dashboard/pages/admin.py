"""管理 Administration: period locks, the audit log, the users (administrators only).

URL: ``/admin``. Locking a month after review makes every later upload to it fail
with a message naming who locked it and when (:mod:`opsmon.access.locks`). The
audit log search reads :func:`opsmon.access.audit.search`. Users are managed with
``opsmon users …`` (the table here is for reference). Every callback checks the
role on the server (the database's role, not the cookie's); the page itself is guarded too.
"""

from __future__ import annotations

from datetime import datetime, time

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, html

from opsmon.access import audit, locks, roles, users
from opsmon.dashboard import auth, context, state
from opsmon.dashboard import components as c
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import t
from opsmon.periods import LOCAL_TZ

PATH = "/admin"


def register() -> None:
    dash.register_page(__name__, path=PATH, name="nav.admin", title=f"{t('nav.admin')} · {t('app.title')}",
                       layout=layout, order=90)


def _require_admin() -> None:
    if not auth.may("admin"):  # the role as the database has it, not as the cookie says
        raise PermissionError("administrators only")


def lock_rows(lang: str) -> list[dict]:
    frame = locks.list_locks(context.engine())
    return [{"period": r.period, "locked_by": r.locked_by, "locked_at": timestamp(r.locked_at), "reason": r.reason}
            for r in frame.itertuples()]


def audit_rows(username: str | None, action: str | None, text: str | None, since: str | None,
               lang: str) -> list[dict]:
    start = datetime.combine(datetime.fromisoformat(since).date(), time(), LOCAL_TZ) if since else None
    frame = audit.search(context.engine(), username=username or None, action=action or None, text=text or None,
                         since=start)
    labels = audit.ACTIONS
    return [{"at": timestamp(r.at), "username": r.username, "address": r.address,
             "action": labels[r.action][1 if lang == "en" else 0] if r.action in labels else r.action,
             "object": r.object, "details": r.details} for r in frame.itertuples()]


def user_rows(lang: str) -> list[dict]:
    frame = users.list_users(context.engine())
    return [{"username": r.username, "display_name": r.display_name,
             "role": roles.get(r.role).en if lang == "en" else roles.get(r.role).zh,
             "unit": f"{r.unit_name or ''}（{r.unit}）", "disabled": "✓" if r.disabled else "",
             "last_login_at": timestamp(r.last_login_at) if not pd.isna(r.last_login_at) else ""}
            for r in frame.itertuples()]


def _columns(keys: list[tuple[str, str]]) -> list[dict]:
    return [{"field": field, "headerName": header, "flex": 1, "minWidth": 110} for field, header in keys]


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = state.language(lang)
    action_options = [{"label": zh if lang == "zh" else en, "value": key} for key, (zh, en) in audit.ACTIONS.items()]
    action_options.insert(0, {"label": t("admin.action.user_all", lang), "value": "user."})
    locks_section = c.section(t("admin.locks", lang), [
        dbc.Row([
            dbc.Col([dbc.Label(t("admin.period", lang), html_for="admin-lock-period"),
                     dbc.Input(id="admin-lock-period", placeholder="2026-10", maxLength=7)], xs=6, md=2),
            dbc.Col([dbc.Label(t("admin.reason", lang), html_for="admin-lock-reason"),
                     dbc.Input(id="admin-lock-reason", maxLength=200)], xs=12, md=5),
            dbc.Col([dbc.Button(t("admin.lock", lang), id="admin-lock", color="primary", className="me-2"),
                     dbc.Button(t("admin.unlock", lang), id="admin-unlock", color="secondary", outline=True)],
                    xs=12, md=5, className="d-flex align-items-end"),
        ], className="g-2 mb-2"),
        html.Div(id="admin-lock-message"),
        c.grid("admin-locks", lock_rows(lang), _columns([
            ("period", t("admin.period", lang)), ("locked_by", t("admin.locked_by", lang)),
            ("locked_at", t("admin.locked_at", lang)), ("reason", t("admin.reason", lang))]), lang, height=220),
    ])
    audit_section = c.section(t("admin.audit", lang), [
        dbc.Row([
            dbc.Col([dbc.Label(t("admin.user", lang), html_for="admin-audit-user"),
                     dbc.Input(id="admin-audit-user", debounce=True)], xs=6, md=2),
            dbc.Col([dbc.Label(t("admin.action", lang), html_for="admin-audit-action"),
                     c.dropdown(lang, id="admin-audit-action", options=action_options, clearable=True)], xs=6, md=3),
            dbc.Col([dbc.Label(t("admin.text", lang), html_for="admin-audit-text"),
                     dbc.Input(id="admin-audit-text", debounce=True)], xs=6, md=3),
            dbc.Col([dbc.Label(t("admin.since", lang), html_for="admin-audit-since"),
                     dbc.Input(id="admin-audit-since", type="date", debounce=True)], xs=6, md=2),
        ], className="g-2 mb-2"),
        c.grid("admin-audit", [], _columns([
            ("at", t("admin.at", lang)), ("username", t("admin.user", lang)), ("address", t("admin.address", lang)),
            ("action", t("admin.action", lang)), ("object", t("admin.object", lang)),
            ("details", t("admin.details", lang))]), lang, height=460),
    ])
    users_section = c.section(t("admin.users", lang), [
        html.P(t("admin.users_hint", lang), className="text-muted small"),
        c.grid("admin-users", user_rows(lang), _columns([
            ("username", t("admin.user", lang)), ("display_name", t("admin.display_name", lang)),
            ("role", t("admin.role", lang)), ("unit", t("admin.unit", lang)), ("disabled", t("admin.disabled", lang)),
            ("last_login_at", t("admin.last_login", lang))]), lang, height=300),
    ])
    return html.Div([
        c.page_header(t("nav.admin", lang), t("admin.subtitle", lang)),
        dash.dcc.Store(id="admin-view", data={"lang": lang}),
        locks_section, audit_section, users_section,
    ])


@callback(Output("admin-lock-message", "children"), Output("admin-locks", "rowData"),
          Input("admin-lock", "n_clicks"), Input("admin-unlock", "n_clicks"),
          State("admin-lock-period", "value"), State("admin-lock-reason", "value"), State("admin-view", "data"),
          prevent_initial_call=True)
def change_lock(_lock, _unlock, period: str | None, reason: str | None, view: dict | None):
    """Lock or unlock the period typed in, as the signed-in administrator."""
    _require_admin()
    lang = (view or {}).get("lang", "zh")
    user = auth.require_user()
    unlocking = dash.ctx.triggered_id == "admin-unlock"
    try:
        if unlocking:
            done = locks.unlock(context.engine(), (period or "").strip(), by=user.username,
                                address=auth.client_address())
        else:
            done = locks.lock(context.engine(), (period or "").strip(), by=user.username, reason=reason or None,
                              address=auth.client_address())
    except ValueError:
        return dbc.Alert(t("admin.bad_period", lang), color="danger", id="admin-lock-alert"), lock_rows(lang)
    key = ("admin.unlocked" if done else "admin.not_locked") if unlocking else \
        ("admin.locked" if done else "admin.already_locked")
    return (dbc.Alert(t(key, lang).format(period=period), color="success" if done else "warning",
                      id="admin-lock-alert"), lock_rows(lang))


@callback(Output("admin-audit", "rowData"), Input("admin-audit-user", "value"), Input("admin-audit-action", "value"),
          Input("admin-audit-text", "value"), Input("admin-audit-since", "value"), State("admin-view", "data"))
def search_audit(username, action, text, since, view):
    """The newest 500 audit entries matching the filters."""
    _require_admin()
    return audit_rows(username, action, text, since, (view or {}).get("lang", "zh"))
