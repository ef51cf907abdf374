"""The frame around every page: navigation bar, hospital search, language toggle, "data as of" stamp.

The navbar is drawn by a callback on the URL, so its labels follow ``?lang=en``
and its as-of stamp is read afresh on every navigation. The language toggle
rewrites the current URL (whatever state the page has pushed into it) with
``lang`` switched, and Dash re-renders the page from it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.access import roles
from opsmon.access.users import User
from opsmon.dashboard import auth, components, context, data, url_query
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import current_language, in_language, t, using_language
from opsmon.indicators import reporting
from opsmon.sql import reader


def _nav_pages() -> list[dict]:
    """Registered pages for the navbar's links (not those with path variables, nor those kept out of it) the
    signed-in user may open."""
    return [p for p in dash.page_registry.values() if not p.get("path_template") and p.get("in_navbar", True)
            and (p.get("permission") is None or auth.may(p["permission"]))]


def _language_of(search: str | None) -> str:
    """The language a URL's query string asks for."""
    return url_query.language(parse_qs((search or "").lstrip("?")).get("lang"))


def unit_label(user: User) -> str:
    """The user's org unit as people read it: a region's name, or a hospital's code."""
    return components.region_name(user.scope) if user.region_adcode else user.scope


def user_menu() -> html.Div:
    """Who is signed in (name · role · unit), the link to their 账号 page and the sign-out button (a POST form:
    no link can sign you out)."""
    user = auth.current_user()
    if user is None:
        return html.Div()
    role = roles.get(user.role)
    return html.Div([
        html.Span([html.Strong(user.display_name or user.username), f" · {in_language(role.zh, role.en)}",
                   html.Span(f" · {unit_label(user)}", className="d-none d-lg-inline")],
                  className="opsmon-user me-2", id="user-name"),
        dcc.Link(t("nav.account"), href=url_query.href("/account"), id="nav-account",
                 className="btn btn-sm btn-outline-light me-2"),
        html.Form([dcc.Input(type="hidden", name="csrf_token", value=auth.csrf_token(), id="signout-csrf"),
                   dbc.Button(t("nav.signout"), type="submit", size="sm", color="light", outline=True,
                              id="signout")], action="/logout", method="post", className="d-inline"),
    ], className="d-flex align-items-center ms-2")


def not_permitted() -> dbc.Alert:
    """The panel a page shows to a user whose role may not open it."""
    user = auth.current_user()
    role = roles.get(user.role) if user else None
    home = auth.home_for(user) if user else "/login"
    return dbc.Alert([html.H4(t("access.denied_title")),
                      html.P(t("access.denied").format(role=in_language(role.zh, role.en) if role else "—")),
                      dcc.Link(t("nav.hospital") if user and user.hospital_code else t("nav.overview"),
                               href=url_query.href(home))],
                     color="warning", id="not-permitted", className="mt-4")


def as_of_stamp() -> html.Span:
    """"数据截至：2026-11-08 14:05" — when the latest accepted submission in the build on view arrived,
    and "（指标更新中）" while newer data waits for the refresh worker."""
    built = data.derived_status(context.reader())
    parts = [t("data.as_of"), "：" if current_language() == "zh" else ": ",
             timestamp(built.data_as_of) if built.data_as_of else t("data.none")]
    if built.pending:
        parts.append(html.Span(t("data.updating"), id="as-of-pending", className="ms-2 text-warning"))
    return html.Span(parts, id="as-of", className="opsmon-asof")


def on_error(error: Exception) -> None:
    """Every callback's error handler: a read cut off by the statement timeout is said in the page
    (the shell's alert) and changes nothing; any other error goes on as before (a 500)."""
    if not reader.timed_out(error):
        raise error
    dash.set_props("shell-alert", {"children": t("error.timeout"), "is_open": True})


def _home() -> str:
    """Where the brand links to: the signed-in user's landing page (a hospital user's own hospital)."""
    user = auth.current_user()
    return auth.home_for(user) if user is not None else "/"


def navbar(pathname: str | None) -> dbc.Container:
    """The bar's content for the page at *pathname*."""
    links = [
        dbc.NavItem(dbc.NavLink(t(page["name"]), href=url_query.href(page["relative_path"]),
                                active=(pathname or "/") == page["relative_path"]
                                or (page["relative_path"] != "/" and (pathname or "").startswith(page["relative_path"]))))
        for page in _nav_pages()
    ]
    return dbc.Container([
        dbc.NavbarBrand(t("app.brand"), href=url_query.href(_home()), className="opsmon-brand"),
        dbc.Nav(links, navbar=True, className="me-auto flex-wrap"),
        html.Div(components.dropdown(id="hospital-search", options=[], placeholder=t("nav.search"),
                                     className="opsmon-navsearch", optionHeight=36, maxHeight=400),
                 className="me-3 d-none d-md-block"),
        dbc.Button(t("lang.toggle"), id="lang-toggle", size="sm", color="light", outline=True,
                   className="opsmon-lang", title=t("lang.toggle_title")),
        user_menu(),
    ], fluid=True)


def _initial_view() -> tuple[str, str]:
    """Path and language of the page being loaded (the layout request's referrer), for the first paint."""
    try:
        ref = urlparse(flask.request.referrer or "")
    except RuntimeError:  # outside a request
        return "/", "zh"
    return ref.path or "/", _language_of(ref.query)


def layout() -> html.Div:
    """Called on every page load."""
    path, lang = _initial_view()
    with using_language(lang):
        return html.Div([
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Location(id="shell-go", refresh="callback-nav"),
            dbc.Navbar(navbar(path), id="navbar", color="#1f4e79", dark=True, className="opsmon-navbar"),
            html.Div(as_of_stamp(), id="shell-status", className="opsmon-status"),
            dbc.Alert(id="shell-alert", is_open=False, dismissable=True, color="warning", className="mx-3 mt-2"),
            dbc.Container(dash.page_container, fluid=True, className="pb-5 opsmon-main"),
        ])


@callback(Output("navbar", "children"), Output("shell-status", "children"), Input("url", "pathname"),
          Input("url", "search"))
def update_navbar(pathname: str | None, search: str | None):
    """Redraw the bar and the as-of stamp when the page or the language changes."""
    with using_language(_language_of(search)):
        return navbar(pathname), as_of_stamp()


@callback(Output("hospital-search", "options"), Input("hospital-search", "search_value"),
          Input("url", "search"))
def hospital_options(text: str | None, search: str | None):
    """Hospitals whose name or code contains *text* (at most 30), labelled with their county."""
    if not text or len(text.strip()) < 1:
        raise PreventUpdate
    engine = context.reader()
    latest = reporting.latest_period(engine)
    if latest is None:
        return []
    frame = data.query(engine, "hospitals_expected", "hospital", latest)
    needle = text.strip().upper()
    hits = frame[frame["name"].str.upper().str.contains(needle, regex=False)
                 | frame["code"].str.contains(needle, regex=False)].head(30)
    with using_language(_language_of(search)):
        return [{"label": row.name, "value": url_query.href(f"/hospital/{row.code}")} for row in hits.itertuples()]


@callback(Output("shell-go", "href"), Input("hospital-search", "value"), prevent_initial_call=True)
def go_to_hospital(href: str | None):
    if not href:
        raise PreventUpdate
    return href


clientside_callback(
    """
    function (n) {
        if (!n) { return window.dash_clientside.no_update; }
        var params = new URLSearchParams(window.location.search);
        if (params.get("lang") === "en") { params.delete("lang"); } else { params.set("lang", "en"); }
        var s = params.toString().replace(/%2C/g, ",");
        return window.location.pathname + (s ? "?" + s : "");
    }
    """,
    Output("url", "href"),
    Input("lang-toggle", "n_clicks"),
    prevent_initial_call=True,
)
