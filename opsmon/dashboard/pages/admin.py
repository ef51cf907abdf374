"""管理 Administration: period locks, the audit log, the users, API tokens (administrators only).

URL: ``/admin``. Locking a month after review makes every later upload to it fail
with a message naming who locked it and when (:mod:`opsmon.access.locks`). The
audit log search reads :func:`opsmon.access.audit.search`. Users are managed with
``opsmon users …`` (the table here is for reference). Every user's API tokens are
listed, and any of them can be revoked (:mod:`opsmon.access.tokens`; users make their
own on the 账号 page). Every callback checks the role on the server (the database's
role, not the cookie's); the page itself is guarded too.
"""

from __future__ import annotations

from datetime import datetime, time

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, html

from opsmon.access import audit, locks, roles, tokens, users
from opsmon.access.users import UserError
from opsmon.dashboard import auth, context
from opsmon.dashboard import components as c
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.page import Page
from opsmon.dashboard.pages.account import revoke_message, selected_token, token_grid, token_rows
from opsmon.dashboard.strings import in_language, t
from opsmon.periods import LOCAL_TZ

PAGE = Page(__name__, path="/admin", name_key="nav.admin", permission="admin", order=90)


def _require_admin() -> None:
    if not auth.may("admin"):  # the role as the database has it, not as the cookie says
        raise PermissionError("administrators only")


def lock_rows() -> list[dict]:
    frame = locks.list_locks(context.reader())
    return [{"period": r.period, "locked_by": r.locked_by, "locked_at": timestamp(r.locked_at), "reason": r.reason}
            for r in frame.itertuples()]


def audit_rows(username: str | None, action: str | None, text: str | None, since: str | None) -> list[dict]:
    start = datetime.combine(datetime.fromisoformat(since).date(), time(), LOCAL_TZ) if since else None
    frame = audit.search(context.reader(), username=username or None, action=action or None, text=text or None,
                         since=start)
    labels = audit.ACTIONS
    return [{"at": timestamp(r.at), "username": r.username, "address": r.address,
             "action": in_language(*labels[r.action]) if r.action in labels else r.action,
             "object": r.object, "details": r.details} for r in frame.itertuples()]


def user_rows() -> list[dict]:
    frame = users.list_users(context.reader())
    return [{"username": r.username, "display_name": r.display_name,
             "role": in_language(roles.get(r.role).zh, roles.get(r.role).en),
             "unit": f"{r.unit_name or ''}（{r.unit}）", "disabled": "✓" if r.disabled else "",
             "last_login_at": timestamp(r.last_login_at) if not pd.isna(r.last_login_at) else ""}
            for r in frame.itertuples()]


def _columns(keys: list[tuple[str, str]]) -> list[dict]:
    return [{"field": field, "headerName": header, "flex": 1, "minWidth": 110} for field, header in keys]


@PAGE.layout
def layout(_v: dict, **_query: str) -> html.Div:
    action_options = [{"label": in_language(zh, en), "value": key} for key, (zh, en) in audit.ACTIONS.items()]
    action_options.insert(0, {"label": t("admin.action.user_all"), "value": "user."})
    locks_section = c.section(t("admin.locks"), [
        dbc.Row([
            dbc.Col([dbc.Label(t("admin.period"), html_for="admin-lock-period"),
                     dbc.Input(id="admin-lock-period", placeholder="2026-10", maxLength=7)], xs=6, md=2),
            dbc.Col([dbc.Label(t("admin.reason"), html_for="admin-lock-reason"),
                     dbc.Input(id="admin-lock-reason", maxLength=200)], xs=12, md=5),
            dbc.Col([dbc.Button(t("admin.lock"), id="admin-lock", color="primary", className="me-2"),
                     dbc.Button(t("admin.unlock"), id="admin-unlock", color="secondary", outline=True)],
                    xs=12, md=5, className="d-flex align-items-end"),
        ], className="g-2 mb-2"),
        html.Div(id="admin-lock-message"),
        c.grid("admin-locks", lock_rows(), _columns([
            ("period", t("admin.period")), ("locked_by", t("admin.locked_by")),
            ("locked_at", t("admin.locked_at")), ("reason", t("admin.reason"))]), height=220),
    ])
    audit_section = c.section(t("admin.audit"), [
        dbc.Row([
            dbc.Col([dbc.Label(t("admin.user"), html_for="admin-audit-user"),
                     dbc.Input(id="admin-audit-user", debounce=True)], xs=6, md=2),
            dbc.Col([dbc.Label(t("admin.action"), html_for="admin-audit-action"),
                     c.dropdown(id="admin-audit-action", options=action_options, clearable=True)], xs=6, md=3),
            dbc.Col([dbc.Label(t("admin.text"), html_for="admin-audit-text"),
                     dbc.Input(id="admin-audit-text", debounce=True)], xs=6, md=3),
            dbc.Col([dbc.Label(t("admin.since"), html_for="admin-audit-since"),
                     dbc.Input(id="admin-audit-since", type="date", debounce=True)], xs=6, md=2),
        ], className="g-2 mb-2"),
        c.grid("admin-audit", [], _columns([
            ("at", t("admin.at")), ("username", t("admin.user")), ("address", t("admin.address")),
            ("action", t("admin.action")), ("object", t("admin.object")),
            ("details", t("admin.details"))]), height=460),
    ])
    users_section = c.section(t("admin.users"), [
        html.P(t("admin.users_hint"), className="text-muted small"),
        c.grid("admin-users", user_rows(), _columns([
            ("username", t("admin.user")), ("display_name", t("admin.display_name")),
            ("role", t("admin.role")), ("unit", t("admin.unit")), ("disabled", t("admin.disabled")),
            ("last_login_at", t("admin.last_login"))]), height=300),
    ])
    tokens_section = c.section(t("admin.tokens"), [
        html.P(t("admin.tokens_hint"), className="text-muted small"),
        html.Div(dbc.Button(t("token.revoke"), id="admin-token-revoke", color="danger", outline=True, size="sm"),
                 className="mb-2"),
        html.Div(id="admin-token-message"),
        token_grid("admin-tokens", token_rows(None), with_user=True),
    ])
    return PAGE.frame(c.page_header(t("nav.admin"), t("admin.subtitle")), locks_section, audit_section, users_section,
                      tokens_section)


@PAGE.callback(Output("admin-lock-message", "children"), Output("admin-locks", "rowData"),
               Input("admin-lock", "n_clicks"), Input("admin-unlock", "n_clicks"),
               State("admin-lock-period", "value"), State("admin-lock-reason", "value"), prevent_initial_call=True)
def change_lock(_lock, _unlock, period: str | None, reason: str | None, view: dict | None):
    """Lock or unlock the period typed in, as the signed-in administrator."""
    _require_admin()
    user = auth.require_user()
    unlocking = dash.ctx.triggered_id == "admin-unlock"
    try:
        if unlocking:
            done = locks.unlock(context.writer(), (period or "").strip(), by=user.username,
                                address=auth.client_address())
        else:
            done = locks.lock(context.writer(), (period or "").strip(), by=user.username, reason=reason or None,
                              address=auth.client_address())
    except ValueError:
        return dbc.Alert(t("admin.bad_period"), color="danger", id="admin-lock-alert"), lock_rows()
    key = ("admin.unlocked" if done else "admin.not_locked") if unlocking else \
        ("admin.locked" if done else "admin.already_locked")
    return (dbc.Alert(t(key).format(period=period), color="success" if done else "warning",
                      id="admin-lock-alert"), lock_rows())


@PAGE.callback(Output("admin-audit", "rowData"), Input("admin-audit-user", "value"),
               Input("admin-audit-action", "value"), Input("admin-audit-text", "value"),
               Input("admin-audit-since", "value"))
def search_audit(username, action, text, since, view):
    """The newest 500 audit entries matching the filters."""
    _require_admin()
    return audit_rows(username, action, text, since)


@PAGE.callback(Output("admin-token-message", "children"), Output("admin-tokens", "rowData"),
               Input("admin-token-revoke", "n_clicks"), State("admin-tokens", "selectedRows"),
               prevent_initial_call=True)
def revoke_any(_n, selected: list[dict] | None, view: dict | None):
    """Revoke the selected token, whoever's it is, as the signed-in administrator; the list again."""
    _require_admin()
    admin = auth.require_user()
    token_id = selected_token(selected)
    if token_id is None:
        return dbc.Alert(t("token.select_first"), color="warning", id="admin-token-alert"), token_rows(None)
    try:
        done = tokens.revoke_token(context.writer(), token_id, by=admin.username)
    except UserError:
        return dbc.Alert(t("token.not_found_admin"), color="danger", id="admin-token-alert"), token_rows(None)
    rows = token_rows(None)
    # Owner and label as stored, not as the row the browser sent says.
    row = next((r for r in rows if r["token_id"] == token_id), {})
    return revoke_message(done, row.get("label", ""), "admin-token-alert", user=row.get("username")), rows
