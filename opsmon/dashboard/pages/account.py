"""账号 Account: who is signed in, and their API tokens (every signed-in user).

URL: ``/account``, reached from the user's name in the navbar. A token
(:mod:`opsmon.access.tokens`) lets a program use ``/api/v1`` as its user; it is shown
once, in the answer of the callback that made it, and only its hash is stored. Whose
tokens are listed, made and revoked is always the signed-in user's (:func:`auth.require_user`),
never a value the browser sends: a crafted callback naming another user's token id is
refused by :func:`opsmon.access.tokens.revoke_token`'s ``owner``. Administrators see and
revoke everyone's tokens on the 管理 page (which uses :func:`token_rows` and :func:`token_columns`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html

from opsmon import periods
from opsmon.access import roles, tokens
from opsmon.access.users import UserError
from opsmon.dashboard import auth, context, shell
from opsmon.dashboard import components as c
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.page import Page
from opsmon.dashboard.strings import in_language, t

# permission=None: any signed-in user (auth.gate has already refused anyone else).
PAGE = Page(__name__, path="/account", name_key="nav.account", permission=None, order=95, in_navbar=False)

# A status's pill colour, from the palette the grids already have (opsmon.css): green while it works.
_PILL = {"active": "accepted", "expired": "default", "revoked": "default", "user_disabled": "default"}


def token_rows(username: str | None) -> list[dict]:
    """The grid rows of *username*'s tokens (None: everyone's), newest first, in the request's language."""
    frame = tokens.list_tokens(context.reader(), username)
    return [{"token_id": int(r.token_id), "username": r.username, "label": r.label,
             "created_at": timestamp(r.created_at),
             "expires_on": r.expires_on.isoformat() if not pd.isna(r.expires_on) else t("token.no_expiry"),
             "last_used_at": timestamp(r.last_used_at) if not pd.isna(r.last_used_at) else t("token.never_used"),
             "status": t(f"token.status.{r.status}"), "pill": _PILL.get(r.status, "default")}
            for r in frame.itertuples()]


def token_columns(with_user: bool = False) -> list[dict]:
    """The token grid's columns (*with_user*: the owner's name first, for the administrators' list)."""
    text = {"flex": 1, "minWidth": 110}
    user = [c.column("username", "token.user", **text)] if with_user else []
    return [*user, c.column("label", "token.label", flex=2, minWidth=160),
            c.column("created_at", "token.created_at", **text), c.column("expires_on", "token.expires_on", **text),
            c.column("last_used_at", "token.last_used", **text),
            c.pill_column("status", "token.status", "pill", minWidth=100)]


def token_grid(component_id: str, rows: list[dict], with_user: bool = False) -> Any:
    """The token list: one row selectable by a click (what the 吊销 button acts on)."""
    return c.grid(component_id, rows, token_columns(with_user), height=300, getRowId="params.data.token_id",
                  dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                    "enableClickSelection": True}})


def selected_token(selected: list[dict] | None) -> int | None:
    """The id of the row selected in a token grid (None: none, or not a token id — the browser sent it)."""
    try:
        token_id = int(selected[0]["token_id"]) if selected else None
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    # Outside bigint the database would fail the query (a 500) rather than find no token.
    return token_id if token_id is not None and 0 < token_id < 2**63 else None


def revoke_message(done: bool, label: str, alert_id: str, user: str | None = None) -> dbc.Alert:
    """What a revocation says (an alert with *alert_id*): revoked — *user*'s, on the admin page — or it was
    revoked already."""
    label = label or t("token.unlabelled")
    if not done:
        return dbc.Alert(t("token.already_revoked").format(label=label), color="warning", id=alert_id)
    text = t("token.revoked_of").format(user=user, label=label) if user else t("token.revoked").format(label=label)
    return dbc.Alert(text, color="success", id=alert_id)


def _profile(user: Any) -> list[Any]:
    role = roles.get(user.role)
    items = [("account.username", user.username, "account-username"),
             ("account.display_name", user.display_name or "—", "account-display-name"),
             ("account.role", in_language(role.zh, role.en), "account-role"),
             ("account.unit", shell.unit_label(user), "account-unit")]
    return [dbc.Row([dbc.Col(t(key), xs=4, md=2, className="text-muted"), dbc.Col(value, id=cid, xs=8, md=10)],
                    className="mb-1") for key, value, cid in items]


@PAGE.layout
def layout(_v: dict, **_query: str) -> html.Div:
    user = auth.require_user()
    profile = c.section(t("account.profile"), _profile(user))
    form = dbc.Row([
        dbc.Col([dbc.Label(t("token.label"), html_for="account-label"),
                 dbc.Input(id="account-label", maxLength=tokens.MAX_LABEL, placeholder=t("token.label_placeholder"))],
                xs=12, md=5),
        dbc.Col([dbc.Label(t("token.expires_on"), html_for="account-expires"),
                 dbc.Input(id="account-expires", type="date", min=periods.today().isoformat()),
                 dbc.FormText(t("token.expires_hint"))], xs=12, md=4),
        dbc.Col(dbc.Button(t("token.create"), id="account-create", color="primary"), xs=12, md=3,
                className="d-flex align-items-start pt-md-4 mt-md-2"),
    ], className="g-2 mb-2")
    token_section = c.section(t("account.tokens"), [
        html.P(t("account.tokens_hint"), className="text-muted small"),
        form,
        html.Div(id="account-new-token"),
        html.Div(dbc.Button(t("token.revoke"), id="account-revoke", color="danger", outline=True, size="sm"),
                 className="mb-2"),
        html.Div(id="account-revoke-message"),
        token_grid("account-tokens", token_rows(user.username)),
    ])
    return PAGE.frame(c.page_header(t("nav.account"), t("account.subtitle")),
                      html.Div(profile, className="mb-3"), token_section)


def _error(key: str, **values: Any) -> dbc.Alert:
    return dbc.Alert(t(key).format(**values), color="danger", id="account-token-error")


def shown_once(secret: str) -> dbc.Alert:
    """The new token, in a block easy to select and copy, with the warning that it will not be shown again."""
    return dbc.Alert([
        html.Div(t("token.created"), className="fw-semibold mb-2"),
        html.Div([html.Code(secret, id="account-secret", className="user-select-all text-break fs-6"),
                  dcc.Clipboard(target_id="account-secret", title=t("token.copy"), className="ms-2 d-inline-block")],
                 className="d-flex align-items-center bg-white border rounded px-2 py-2 mb-2"),
        html.Div(t("token.shown_once"), className="small"),
    ], color="success", id="account-token-alert")


@PAGE.callback(Output("account-new-token", "children"), Output("account-tokens", "rowData"),
               Input("account-create", "n_clicks"), State("account-label", "value"),
               State("account-expires", "value"), prevent_initial_call=True)
def create_token(_n, label: str | None, expires: str | None, view: dict | None):
    """Make a token for the signed-in user and show it once; the list again, with it."""
    user = auth.require_user()
    label = (label or "").strip()
    # Checked here as well as in add_token: its UserError speaks English, these messages the page's language.
    if len(label) > tokens.MAX_LABEL:
        return _error("token.label_too_long", n=tokens.MAX_LABEL), token_rows(user.username)
    try:
        expires_on = date.fromisoformat(expires) if expires else None
    except (TypeError, ValueError):
        return _error("token.bad_expiry"), token_rows(user.username)
    if expires_on is not None and expires_on < periods.today():
        return _error("token.expiry_past"), token_rows(user.username)
    try:
        _token, secret = tokens.add_token(context.writer(), user.username, label=label, expires_on=expires_on,
                                          by=user.username)
    except UserError:
        return _error("token.create_failed"), token_rows(user.username)
    return shown_once(secret), token_rows(user.username)


@PAGE.callback(Output("account-revoke-message", "children"),
               Output("account-tokens", "rowData", allow_duplicate=True),
               Input("account-revoke", "n_clicks"), State("account-tokens", "selectedRows"),
               prevent_initial_call=True)
def revoke_own(_n, selected: list[dict] | None, view: dict | None):
    """Revoke the selected token — only if it is the signed-in user's own (``owner``), whatever id was sent."""
    user = auth.require_user()
    token_id = selected_token(selected)
    if token_id is None:
        return (dbc.Alert(t("token.select_first"), color="warning", id="account-revoke-alert"),
                token_rows(user.username))
    try:
        done = tokens.revoke_token(context.writer(), token_id, by=user.username, owner=user.username)
    except UserError:  # no such token, or another user's: the same answer, and nothing changed
        return (dbc.Alert(t("token.not_found"), color="danger", id="account-revoke-alert"),
                token_rows(user.username))
    rows = token_rows(user.username)
    # The label as stored (the row the browser sent may say anything).
    label = next((r["label"] for r in rows if r["token_id"] == token_id), "")
    return revoke_message(done, label, "account-revoke-alert"), rows
