"""The frame around every page: navigation bar, "data as of" stamp, page container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from opsmon.dashboard import context
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import t
from opsmon.indicators import reporting


def layout() -> html.Div:
    """Called on every page load, so the as-of stamp is always fresh."""
    as_of = reporting.data_as_of(context.engine())
    nav_links = [
        dbc.NavItem(dbc.NavLink(t(page["name"]), href=page["relative_path"], active="exact"))
        for page in dash.page_registry.values()
    ]
    navbar = dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand([t("app.title")], href="/"),
            dbc.Nav(nav_links, navbar=True, className="me-auto"),
            html.Span(
                [t("data.as_of"), "：", timestamp(as_of) if as_of else t("data.none")],
                id="as-of", className="opsmon-asof",
            ),
        ], fluid=True),
        color="#1f4e79", dark=True, className="opsmon-navbar mb-3",
    )
    return html.Div([
        dcc.Location(id="url", refresh="callback-nav"),
        navbar,
        dbc.Container(dash.page_container, fluid=True, className="pb-4"),
    ])
