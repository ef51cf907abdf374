"""Streamed downloads: tables the browser fetches by URL, not through a callback's JSON.

``GET /download/rankings.xlsx?<the rankings page's query string>`` (or ``.csv``) sends the rankings
page's table for that selection — the same bytes as the page's own CSV and Excel buttons
(:func:`opsmon.dashboard.pages.rankings.export_selection`, then :func:`opsmon.dashboard.exports.
write_indicator_table`) — and also takes ``indicator=all``: every catalogue indicator of the level,
period, span and filters, the national counties × all-indicators table of 125 000 rows — and
``layout=wide`` (XLSX): the same values as a row per county and a column per indicator (2 844 rows).
A ``dcc.Download`` would carry that as base64 inside the callback's JSON, held whole three times
over in the browser; here the workbook is written to a spooled temporary file (memory up to
:data:`SPOOL_BYTES`, disk beyond) and streamed to the browser as an attachment, under the file
name the buttons use.

Who gets what is decided on the server from the signed-in user alone: the sign-in gate
(:func:`opsmon.dashboard.auth.gate`) answers a request without a session with the sign-in page;
a user whose role may not open the rankings page or may not export gets 403; every read goes
through :mod:`opsmon.dashboard.data`, which adds the user's scope — a region outside it gives the
empty table the page would show, and no query parameter can widen it (``scope`` is not one; unknown
parameters are ignored, as the page ignores them). A parameter the page would not accept is a
400 naming it, rather than the page's silent fallback to a default: a link should not quietly
download something else. Each download is audited as the buttons' are
(:func:`opsmon.dashboard.exports.audited`: file name and row count).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import flask
from werkzeug.datastructures import MultiDict

from opsmon import spreadsheet
from opsmon.dashboard import components, data, exports, url_query
from opsmon.dashboard.pages import rankings
from opsmon.dashboard.strings import t, using_language
from opsmon.indicators import IDS, SPANS
from opsmon.indicators.restrict import FILTERS

#: Up to this many bytes a download is built in memory; beyond, in a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024
MEDIA_TYPES = {"csv": spreadsheet.CSV_MEDIA_TYPE, "xlsx": spreadsheet.XLSX_MEDIA_TYPE}


class BadParameter(ValueError):
    """A query parameter the page would not accept."""

    def __init__(self, name: str, value: str):
        super().__init__(f"{name}={value}")
        self.name, self.value = name, value


def install(server: flask.Flask) -> None:
    """Route ``/download/rankings.<fmt>`` on *server* (behind the sign-in gate, like every route)."""
    server.add_url_rule("/download/rankings.<fmt>", "opsmon_download_rankings", rankings_table)


def rankings_table(fmt: str) -> flask.Response:
    """The rankings table of the selection in the query string, as an attachment (see the module's docstring)."""
    args = flask.request.args
    with using_language(url_query.language(args.get("lang"))):
        # Refused before anything is read: PermissionError → 403, in the audit log as access.denied.
        if not rankings.PAGE.may_open():
            raise PermissionError(f"the rankings page needs {rankings.PAGE.permission}")
        data.check_export()
        try:
            if fmt not in MEDIA_TYPES:
                raise BadParameter("format", fmt)
            values = rankings_selection(args)
            layout = args.get("layout", "").strip() or "long"
            if layout == "wide" and fmt != "xlsx":  # a sheet for people: CSV keeps the query's rows
                raise BadParameter("layout", layout)
        except BadParameter as bad:
            return flask.make_response(flask.jsonify(
                error="bad_parameter", parameter=bad.name, value=bad.value,
                message=t("download.bad_parameter").format(name=bad.name, value=bad.value)), 400)
        frame, title, name, as_of = rankings.export_selection(values, fmt)
        if layout == "wide":  # not the long table's name: both may be saved side by side
            name = name.removesuffix(f".{fmt}") + f"_{t('rankings.wide_file')}.{fmt}"
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            exports.write_indicator_table(spool, frame, fmt, title=title, as_of=as_of, layout=layout)
            size = spool.tell()
            spool.seek(0)
            exports.audited(name, len(frame))  # as the buttons' downloads: file name and row count
        except BaseException:
            spool.close()
            raise
    # The file is closed by the response once sent.
    response = flask.send_file(spool, mimetype=MEDIA_TYPES[fmt], as_attachment=True, download_name=name,
                               conditional=False, etag=False)
    response.content_length = size
    response.headers["Cache-Control"] = "no-store"  # scoped data: no shared cache keeps it
    return response


def rankings_selection(args: MultiDict[str, str]) -> dict:
    """The rankings controls' values for the query string *args*, as the page reads them
    (:meth:`~opsmon.dashboard.page.Page.read`), ``indicator`` possibly ``all``. ``BadParameter`` for
    a value the page would not accept (every value of a repeated key is checked; a blank one means
    none, as on the page)."""
    for key, ok in _validators().items():
        for raw in args.getlist(key):
            if raw.strip() and not ok(raw.strip()):
                raise BadParameter(key, raw)
    query = {key: args.getlist(key)[0] for key in rankings.PAGE.controls if key in args}
    values = rankings.PAGE.read(query)
    if url_query.first(query.get("indicator")) == rankings.ALL_INDICATORS:
        values["indicator"] = rankings.ALL_INDICATORS
    if not values["period"]:
        raise BadParameter("period", query.get("period", ""))  # no data at all: nothing to download
    return values


def _validators() -> dict[str, Callable[[str], bool]]:
    """For each parameter the page reads: whether a raw value is one it accepts."""
    choices = {key: (lambda raw, key=key: all(v in FILTERS[key] for v in url_query.as_list(raw)))
               for key in rankings.FILTER_IDS if key != "pilot"}
    return {
        "indicator": lambda raw: raw == rankings.ALL_INDICATORS or raw in IDS,
        "level": lambda raw: raw in rankings.levels(),
        "period": lambda raw: raw in components.available_periods(),
        "span": lambda raw: raw in SPANS,
        "region": lambda raw: raw in set(components.regions()["adcode"]),
        "pilot": lambda raw: url_query.boolean(raw) is not None,
        "lang": lambda raw: raw in ("zh", "en"),
        "layout": lambda raw: raw in ("long", "wide"),
        **choices,
    }
