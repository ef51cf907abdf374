"""A page of the dashboard, declared once: where it lives, who may open it, which controls live in its URL.

Every page is a module under ``pages/`` holding ``PAGE = Page(__name__, …)``, a layout
decorated with ``@PAGE.layout`` and callbacks decorated with ``@PAGE.callback``. From the
declaration come what each page used to write out for itself:

* registration in Dash's page registry (:meth:`Page.register`), behind the permission
  check: a user whose role may not open the page gets the "not permitted" panel, and a
  callback writing the page's components answers 403 (:func:`callback_guard`);
* the request's language (:mod:`opsmon.dashboard.strings`): a layout renders in its URL's
  ``?lang=``, a callback in the language its page was rendered in (kept in the page's
  ``{prefix}-view`` store, the last State of every page callback);
* the URL ⇄ controls sync (``{prefix}-url``), from the page's :class:`Control` s;
* the CSV/XLSX download (``{prefix}-csv`` / ``{prefix}-xlsx`` → ``{prefix}-download``);
* the table's quick filter (``{prefix}-search`` → ``{prefix}-grid``).

A page's component ids start with its prefix, the last part of its module's name ("risk-map"
is the risk page's): the callback guard relies on it.

A new page: its module with the spec, layout and callbacks, added to ``app.PAGES``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import dash
import flask
from dash import Input, Output, Patch, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from opsmon.dashboard import auth, components, paged_grid, shell, url_query
from opsmon.dashboard.strings import current_language, t, using_language

Query = Mapping[str, url_query.QueryValue]


@dataclass(frozen=True)
class Control:
    """A control whose value lives in the URL under its key; its component is ``{prefix}-{id or key}``.

    *parse* gives the control's value for a query string (invalid or missing: the default);
    *omit* is a value left out of the URL (the default, so links stay short), or a function giving it.
    """

    parse: Callable[[Query], Any]
    omit: Any = None
    id: str | None = None

    def url_value(self, value: Any) -> Any:
        """*value* as it goes into the URL (None: left out)."""
        omit = self.omit() if callable(self.omit) else self.omit
        return None if value == omit else value


# The controls most pages share. A page opens on the latest closed month (components.default_period);
# 报送 on the month being collected (COLLECTING_PERIOD), which is offered even before anyone reports it.
PERIOD = Control(lambda q: url_query.period(q.get("period"), components.available_periods(), components.default_period()))
COLLECTING_PERIOD = Control(lambda q: url_query.period(q.get("period"), components.collecting_periods(),
                                                   components.reporting_months()[0]))
SPAN = Control(lambda q: url_query.span(q.get("span")), omit="month")
# A region under the one served (None: all of it).
REGION = Control(lambda q: url_query.choice(q.get("region"),
                                       set(components.regions()["adcode"]) - {components.root_region()}))


def choices(key: str, allowed: Iterable[str], id: str | None = None) -> Control:
    """A multi-select of *allowed* values (comma-separated in the URL); *id*: see :class:`Control`."""
    return Control(lambda q: url_query.choices(q.get(key), allowed), id=id)


def indicator(default: str) -> Control:
    """A catalogue indicator (*default* when the URL names none, or no valid one)."""
    return Control(lambda q: url_query.indicator(q.get("indicator"), default))


@dataclass
class Page:
    """One page: its path, navbar label, permission, order and URL controls (see the module's docstring)."""

    module: str
    name_key: str  # the navbar's label (a strings key); the title is "<label> · <app title>"
    permission: str | None  # what opening the page and calling its callbacks needs; None: any signed-in user
    order: int
    path: str | None = None
    path_template: str | None = None  # instead of *path*, for pages with path variables
    controls: dict[str, Control] = field(default_factory=dict)
    # URL parameters taken from the page's view store rather than a control (after the controls').
    url_extra: Callable[[dict], dict] | None = None
    quick_filter: bool = False  # a search box filtering the page's table
    # The table is served in blocks (opsmon.dashboard.paged_grid): the search goes to the server, not the grid.
    paged_table: bool = False
    # Beside the month: its reporting rate, or "collection in progress" (:meth:`status`; needs a period control).
    period_status: bool = False
    # Among the navbar's page links (False: reached another way, as 账号 from the user's name).
    in_navbar: bool = True
    render: Callable[..., Any] | None = field(default=None, init=False)  # set by @layout
    has_download: bool = field(default=False, init=False)  # set by @download

    def __post_init__(self) -> None:
        if self.controls:
            self._sync_url()
        if self.quick_filter:
            self._filter_table()
        if self.period_status:
            self._update_status()

    # ------------------------------------------------------------------------------------- ids and values
    @property
    def prefix(self) -> str:
        """What the page's component ids start with: its module's name."""
        return self.module.rsplit(".", 1)[-1]

    def id(self, name: str) -> str:
        """The page's component id ``{prefix}-{name}``."""
        return f"{self.prefix}-{name}"

    def control_id(self, key: str) -> str:
        """The component id of the control *key*."""
        return self.id(self.controls[key].id or key)

    def inputs(self, as_state: bool = False) -> list[Input | State]:
        """The controls' values as callback Inputs (or States), in the controls' order."""
        kind = State if as_state else Input
        return [kind(self.control_id(key), "value") for key in self.controls]

    def read(self, query: Query) -> dict[str, Any]:
        """The controls' values for a query string (invalid values fall back to defaults)."""
        return {key: control.parse(query) for key, control in self.controls.items()}

    def params(self, values: Mapping[str, Any], view: dict | None = None) -> dict[str, Any]:
        """URL parameters for the controls' *values* (and the page's view store)."""
        out = {key: self.controls[key].url_value(value) for key, value in values.items()}
        return {**out, **(self.url_extra(view or {}) if self.url_extra else {})}

    # ------------------------------------------------------------------------------------- registration
    def register(self) -> None:
        """Add the page to Dash's registry (once the app exists)."""
        # The home page carries the app's title alone.
        title = t("app.title") if self.path == "/" else f"{t(self.name_key)} · {t('app.title')}"
        dash.register_page(self.module, path=self.path, path_template=self.path_template, name=self.name_key,
                           title=title, layout=self.render, order=self.order)
        dash.page_registry[self.module]["permission"] = self.permission
        dash.page_registry[self.module]["in_navbar"] = self.in_navbar

    def may_open(self) -> bool:
        """Whether the signed-in user may open the page (and call its callbacks)."""
        return self.permission is None or auth.may(self.permission)

    # ------------------------------------------------------------------------------------- decorators
    def layout(self, body: Callable[..., Any]) -> Callable[..., Any]:
        """Make ``body(values, **query)`` the page's layout.

        Dash calls the layout with the path variables and the query string as keyword
        arguments; *values* are the controls' values read from them. It renders in the URL's
        language, and as the "not permitted" panel for a user who may not open the page.
        """

        @functools.wraps(body)
        def render(**query: Any) -> Any:
            with using_language(url_query.language(query.get("lang"))):
                if not self.may_open():
                    return shell.not_permitted()
                return body(self.read(query), **query)

        self.render = render
        return render

    def callback(self, *dependencies: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
        """``dash.callback`` for this page, with the page's view store added as the last State.

        The body's last parameter is that store (``view``); the body runs in the language the
        page was rendered in. Called directly (tests), a body given no view runs in Chinese.
        """
        dependencies = (*dependencies, State(self.id("view"), "data"))
        arity = sum(isinstance(d, (Input, State)) for d in dependencies)

        def decorate(body: Callable) -> Callable:
            @functools.wraps(body)
            def run(*args: Any, **kw: Any) -> Any:
                view = args[arity - 1] if len(args) >= arity else kw.get("view")
                with using_language((view or {}).get("lang")):
                    return body(*args, **kw)

            dash.callback(*dependencies, **kwargs)(run)
            return run

        return decorate

    def search_options(self, component_id: str, options: Callable[..., list[dict]], *states: State) -> Callable:
        """Answer the typed search of the picker *component_id*, sent only part of its choices
        (:func:`components.offered`): ``options(*states' values)`` are all of them (in the user's scope), and the
        reply the ones matching the text (:func:`components.matching`). A short list is filtered in the browser.
        Returns the callback, ``search(text, value, *state values, view)``."""

        @self.callback(Output(component_id, "options"), Input(component_id, "search_value"),
                       State(component_id, "value"), *states, prevent_initial_call=True)
        def search(text: str | None, value: Any, *args: Any) -> list[dict]:
            every = options(*args[:len(states)])
            if not text or not text.strip() or len(every) <= components.PICKER_OPTIONS:
                raise PreventUpdate
            return components.matching(every, text, value)

        return search

    def download(self, body: Callable[[str, dict], dict]) -> Callable[[str, dict], dict]:
        """Make ``body(fmt, values)`` (a ``dcc.Download`` payload, through ``exports.send``) the page's download.

        The CSV and XLSX buttons of :meth:`table_actions` send the controls' current *values*;
        without a period there is nothing to send.
        """
        keys = list(self.controls)
        self.has_download = True

        @self.callback(Output(self.id("download"), "data"), Input(self.id("csv"), "n_clicks"),
                       Input(self.id("xlsx"), "n_clicks"), *self.inputs(as_state=True), prevent_initial_call=True)
        def send(_csv, _xlsx, *values):
            chosen = dict(zip(keys, values[:len(keys)]))
            if not chosen.get("period"):
                raise PreventUpdate
            return body("xlsx" if ctx.triggered_id == self.id("xlsx") else "csv", chosen)

        return body

    # ------------------------------------------------------------------------------------- layout pieces
    def frame(self, *children: Any, **view: Any) -> html.Div:
        """The page's content with its URL location (when it has controls) and its view store (language, *view*)."""
        location = [dcc.Location(id=self.id("url"), refresh=False)] if self.controls else []
        return html.Div([*location, dcc.Store(id=self.id("view"), data={"lang": current_language(), **view}),
                         *children])

    def status(self, values: Mapping[str, Any], view: Mapping[str, Any] | None = None) -> html.Div:
        """The month's status line (``{prefix}-period-status``): :func:`components.period_status` for the unit in
        view — the view's hospital (``code``), else the region control's or the view's region, else the user's."""
        return html.Div(components.period_status(values.get("period"), self._status_unit(values, view or {}),
                                                 self.prefix), id=self.id("period-status"), className="mb-3")

    @staticmethod
    def _status_unit(values: Mapping[str, Any], view: Mapping[str, Any]) -> str:
        return view.get("code") or values.get("region") or view.get("region") or components.home_region()

    def table_actions(self) -> list[Any]:
        """What sits above the page's table: the quick filter box and the download buttons it has."""
        search = [components.quick_search(self.id("search"))] if self.quick_filter else []
        return search + (components.download_buttons(self.prefix) if self.has_download else [])

    # ------------------------------------------------------------------------------------- generated callbacks
    def _sync_url(self) -> None:
        """Keep the controls and the URL in step, both ways, in one callback.

        A control change pushes a history entry (``{prefix}-url`` has ``refresh=False``);
        Back or Forward changes ``{prefix}-url``'s search and the controls are set from it —
        Dash's page router only re-renders when the URL differs from the one it last rendered.
        """
        keys = list(self.controls)
        ids = [self.control_id(k) for k in keys]
        url = self.id("url")

        @self.callback(*[Output(i, "value") for i in ids], Output(url, "search"),
                       *[Input(i, "value") for i in ids], Input(url, "search"), prevent_initial_call=True)
        def sync(*args):
            values, search, view = dict(zip(keys, args)), args[len(keys)], args[len(keys) + 1] or {}
            if ctx.triggered_id == url:
                restored = self.read(parse_search(search))
                return [no_update if restored.get(k) == values[k] else restored.get(k) for k in keys] + [no_update]
            wanted = url_query.search({**self.params(values, view), "lang": current_language()})
            return [no_update] * len(keys) + [wanted if wanted != (search or "") else no_update]

    def _update_status(self) -> None:
        """Redraw the status line when the month (or the region control) changes."""
        keys = [k for k in ("period", "region") if k in self.controls]

        @self.callback(Output(self.id("period-status"), "children"),
                       *[Input(self.control_id(k), "value") for k in keys], prevent_initial_call=True)
        def update_status(*args):
            values, view = dict(zip(keys, args[:len(keys)])), args[len(keys)] or {}
            return components.period_status(values.get("period"), self._status_unit(values, view), self.prefix)

    def _filter_table(self) -> None:
        if self.paged_table:
            paged_grid.purge_on_search(self.id("search"), self.id("grid"))
            return

        @dash.callback(Output(self.id("grid"), "dashGridOptions"), Input(self.id("search"), "value"),
                       prevent_initial_call=True)
        def quick_filter(text: str | None):
            patch = Patch()
            patch["quickFilterText"] = text or ""
            return patch


def parse_search(search: str | None) -> dict[str, Any]:
    """A query string as Dash passes it to layouts (one value, or a list when a key repeats)."""
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


# A callback's output ids, in the body Dash posts ("..risk-kpis.children...risk-map.figure..").
_OUTPUT_ID = re.compile(r"(?<![A-Za-z0-9_-])([a-z]+)-[A-Za-z0-9_-]")


def callback_guard(pages: Iterable[Page]) -> Callable[[], None]:
    """A ``before_request`` hook: ``PermissionError`` (→ 403) for a callback of a page the user may not open.

    Without it a hospital user could call a region page's callbacks directly (the data
    would stay scoped, but the page is refused, and so must its callbacks be).
    """
    by_prefix = {page.prefix: page for page in pages}

    def check() -> None:
        if flask.request.path != "/_dash-update-component":
            return
        body = flask.request.get_json(silent=True) or {}  # auth.gate has checked its shape
        for prefix in set(_OUTPUT_ID.findall(str(body.get("output", "")))):
            page = by_prefix.get(prefix)
            if page is not None and not page.may_open():
                raise PermissionError(f"callbacks of the {prefix} page need {page.permission}")

    return check
